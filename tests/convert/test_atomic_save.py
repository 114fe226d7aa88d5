"""Crash-safe saves: a save killed at any moment, failing on a full disk, or racing another save leaves
a folder that loads as the old checkpoint or the new one, never a mix; `rosetta convert` OUT likewise,
and it never deletes a user's files."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rosetta.convert.formats import journal, load_checkpoint, open_checkpoint
from rosetta.convert.formats.journal import JOURNAL_NAME, STAGING_PREFIX
from rosetta.convert.sharding import write_checkpoint
from rosetta.core.errors import InputError

MB = 1024 * 1024
# generation -> (tensor count, shard size): each generation has its own shard layout, so a mix shows
LAYOUTS = {1: (24, "64MB"), 2: (20, "100MB"), 3: (12, "1GB"), 4: (16, "20MB")}

SAVER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from rosetta.convert.sharding import write_checkpoint
    folder, gen, count, shard, mb, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \\
        int(sys.argv[5]), int(sys.argv[6])
    block = np.full(mb * 1024 * 1024 // 4, gen, dtype=np.float32)
    for _ in range(repeat):
        write_checkpoint(folder, {f"w{i}": block for i in range(count)}, max_shard_size=shard,
                         extra_files={"config.json": json.dumps({"gen": gen})})
    """
)


def saver(folder: Path, gen: int, mb: int = 8, repeat: int = 1, **popen) -> subprocess.Popen:
    count, shard = LAYOUTS[gen]
    argv = [sys.executable, "-c", SAVER, str(folder), str(gen), str(count), shard, str(mb), str(repeat)]
    return subprocess.Popen(argv, **popen)


def save_in_process(folder: Path, gen: int, mb: int = 8) -> None:
    count, shard = LAYOUTS[gen]
    block = np.full(mb * MB // 4, gen, dtype=np.float32)
    write_checkpoint(
        folder,
        {f"w{i}": block for i in range(count)},
        max_shard_size=shard,
        extra_files={"config.json": json.dumps({"gen": gen})},
    )


def generation(folder: Path) -> int:
    """The one generation the folder holds: config and every tensor agree, and nothing else is there."""
    with journal.reading(folder):
        gen = json.loads((folder / "config.json").read_text())["gen"]
        reader = load_checkpoint(folder)
    with reader:
        assert sorted(reader) == sorted(f"w{i}" for i in range(LAYOUTS[gen][0])), (
            f"tensors of a mix (gen {gen})"
        )
        for name in reader:
            values = reader[name]
            assert values.min() == values.max() == gen, (
                f"{name} holds another save's data (config: gen {gen})"
            )
    return gen


def no_leftovers(folder: Path) -> None:
    journal.recover(str(folder))
    assert not [e for e in os.listdir(folder) if e.startswith(STAGING_PREFIX) or e == JOURNAL_NAME]


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_checkpoint(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 1)  # 192 MB in 3 shards
    start = time.monotonic()
    saver(folder, 2).wait()  # 160 MB in 2 shards, uninterrupted: how long a save takes here
    full = time.monotonic() - start
    assert generation(folder) == 2
    rng = random.Random(0)
    old = 2
    for delay in (0.05, 0.3, 0.6, 0.9, 1.2):  # from before the first shard to around the commit
        proc = saver(folder, 3 - old)
        time.sleep(delay * full * rng.uniform(0.9, 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        old = generation(folder)  # either one, exactly; the next save starts from it
        no_leftovers(folder)


def test_a_crash_after_the_commit_point_is_rolled_forward_on_the_next_load(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 1, mb=1)
    crash_mid_commit = textwrap.dedent(
        """
        import os
        real, calls = os.replace, [0]
        def replace(a, b):
            calls[0] += 1
            if calls[0] == 3:  # the journal is in place and one file has moved: die mid-commit
                os.kill(os.getpid(), 9)
            real(a, b)
        os.replace = replace
        """
    )
    count, shard = LAYOUTS[2]
    script = crash_mid_commit + SAVER
    proc = subprocess.run([sys.executable, "-c", script, str(folder), "2", str(count), shard, "1", "1"])
    assert proc.returncode == -signal.SIGKILL
    assert (folder / JOURNAL_NAME).exists()  # a committed save, half moved in
    assert generation(folder) == 2  # rolled forward before anything was read
    no_leftovers(folder)


def test_a_full_disk_leaves_the_old_checkpoint(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 1, mb=2)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * MB, 20 * MB))

    proc = saver(folder, 3, mb=4, preexec_fn=limit_file_size, stderr=subprocess.PIPE)  # one 48 MB file
    _, err = proc.communicate()
    assert proc.returncode != 0 and b"File too large" in err
    assert generation(folder) == 1
    assert not [e for e in os.listdir(folder) if e.startswith(STAGING_PREFIX)]  # the failed save cleaned up


def test_concurrent_writers_and_readers_never_see_a_mix(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 1, mb=2)
    writers = [saver(folder, gen, mb=2, repeat=3) for gen in (3, 4)]
    seen, errors = set(), []

    def read_until_done() -> None:
        while any(w.poll() is None for w in writers):
            try:
                seen.add(generation(folder))
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(err)
                return

    reader = threading.Thread(target=read_until_done)
    reader.start()
    assert [w.wait() for w in writers] == [0, 0]
    reader.join()
    assert not errors, errors[0]
    assert generation(folder) in (3, 4)
    assert seen <= {1, 3, 4} and len(seen) >= 1
    no_leftovers(folder)


def test_files_follow_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_in_process(tmp_path / "model", 4, mb=1)
    finally:
        os.umask(old)
    for entry in os.listdir(tmp_path / "model"):
        assert stat.S_IMODE(os.stat(tmp_path / "model" / entry).st_mode) == 0o644, entry
    assert stat.S_IMODE(os.stat(tmp_path / "model").st_mode) == 0o755


def test_stale_files_of_an_earlier_save_go_and_others_stay(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 4, mb=1)  # 16 MB in 1 MB... shards of 20 MB: one file
    (folder / "model-00009-of-00009.safetensors").write_bytes(b"stale")
    (folder / "tokenizer.json").write_text("{}")
    save_in_process(folder, 1, mb=1)
    assert generation(folder) == 1
    assert "model-00009-of-00009.safetensors" not in os.listdir(folder)
    assert (folder / "tokenizer.json").read_text() == "{}"


def test_a_reader_holds_the_files_it_opened_through_a_later_save(tmp_path):
    folder = tmp_path / "model"
    save_in_process(folder, 1, mb=1)
    with journal.reading(folder):
        reader = open_checkpoint("safetensors", sorted(str(p) for p in folder.glob("model-*.safetensors")))
    save_in_process(folder, 2, mb=1)
    assert all(reader[n].max() == 1 for n in reader)  # the old files, intact under the reader
    assert generation(folder) == 2


# --------------------------------------------------------------------------------------
# rosetta convert OUT


def _convert(src: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "rosetta", "convert", str(src), str(out), "--quiet", *args]
    return subprocess.run(argv, capture_output=True, text=True)


def test_convert_refuses_an_out_that_is_or_contains_src(tmp_path):
    from rosetta.convert.stream import check_destination

    src = tmp_path / "parent" / "src"
    save_in_process(src, 4, mb=1)
    (tmp_path / "parent" / "notes.txt").write_text("mine")
    for out in (src, tmp_path / "parent", tmp_path):
        with pytest.raises(InputError, match="SRC"):
            check_destination(str(src), str(out), force=True)
    run = _convert(src, tmp_path / "parent", "--force")
    assert run.returncode == 2 and "contains SRC" in run.stderr
    assert (tmp_path / "parent" / "notes.txt").read_text() == "mine" and generation(src) == 4


def test_convert_never_replaces_a_folder_it_did_not_write(tmp_path):
    from rosetta.convert.stream import check_destination

    src, out = tmp_path / "src", tmp_path / "out"
    save_in_process(src, 4, mb=1)
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="thesis.tex"):
        check_destination(str(src), str(out), force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder rosetta convert wrote"):
        check_destination(str(src), str(tmp_path / "file"), force=True)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_convert_killed_while_replacing_out_leaves_the_old_or_the_new_out(tmp_path):
    old_src, new_src, out = tmp_path / "old", tmp_path / "new", tmp_path / "out"
    save_in_process(old_src, 1, mb=2)  # 48 MB
    save_in_process(new_src, 2, mb=2)
    assert _convert(old_src, out).returncode == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o777 & ~_umask()
    start = time.monotonic()
    assert _convert(new_src, out, "--force").returncode == 0
    full = time.monotonic() - start
    rng = random.Random(1)
    for attempt in range(3):
        source = new_src if attempt % 2 == 0 else old_src
        proc = subprocess.Popen(
            [sys.executable, "-m", "rosetta", "convert", str(source), str(out), "--quiet", "--force"]
        )
        time.sleep(rng.uniform(0.3, 1.0) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert generation(out) in (1, 2)
    assert _convert(new_src, out, "--force").returncode == 0  # dead temporaries never block the next run
    assert generation(out) == 2


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
