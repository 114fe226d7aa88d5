"""`rosetta convert`: every source format to every target and back, bit-exact; dtypes; shards; errors."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from . import hf4_layout
from .helpers import (
    FIXTURES,
    TOP_SCOPE,
    assert_same_tensors,
    cli,
    convert,
    copy_fixture,
    h5_dump,
    load_safetensors_folder,
    load_torch_folder,
    reference,
)

torch = pytest.importorskip("torch")
TIED = {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
TARGETS = ["safetensors", "pt", "tf", "flax"]
SOURCES = [
    "safetensors",
    "pt",
    "pt_446",
    "tf",
    "tf_sharded",
    "tf_safetensors",
    "flax",
    "flax_sharded",
    "flax_safetensors",
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Each source format, all holding the reference weights: transformers 5 writes safetensors and the
    state dict for the .bin (it writes no .bin itself); transformers 4.46 wrote the legacy files."""
    transformers = pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("sources")
    model = transformers.BertForPreTraining(transformers.BertConfig.from_pretrained(FIXTURES / "pt"))
    state = {k: torch.from_numpy(v) for k, v in reference().items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= TIED
    model.save_pretrained(root / "safetensors")
    (root / "pt").mkdir()
    torch.save(model.state_dict(), root / "pt" / "pytorch_model.bin")
    (root / "pt" / "config.json").write_text((FIXTURES / "pt" / "config.json").read_text())
    found = {"safetensors": root / "safetensors", "pt": root / "pt", "pt_446": FIXTURES / "pt_bin"}
    found.update({name: FIXTURES / name for name in SOURCES if name not in found})
    return found


def check_target(out: Path, target: str, ref: dict[str, np.ndarray], fixture: str = "") -> None:
    """The output is exactly what transformers 4.46 would have written, read with independent readers."""
    if target == "tf":
        assert h5_dump(out / "tf_model.h5") == h5_dump(FIXTURES / (fixture or "tf") / "tf_model.h5")
    elif target == "flax":
        assert (out / "flax_model.msgpack").read_bytes() == (
            FIXTURES / (fixture or "flax") / "flax_model.msgpack"
        ).read_bytes()
    else:
        weights = load_safetensors_folder(out) if target == "safetensors" else load_torch_folder(out)
        assert set(weights) - set(ref) <= TIED
        assert_same_tensors({k: weights[k] for k in ref}, ref)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", SOURCES)
def test_every_source_to_every_target_and_back_is_bit_exact(sources, tmp_path, source, target):
    ref = reference()
    out = convert(sources[source], tmp_path / "out", "--to", target)
    check_target(out, target, ref)
    back = convert(out, tmp_path / "back")
    assert os.listdir(back) == ["model.safetensors", "config.json"] or sorted(os.listdir(back)) == [
        "config.json",
        "model.safetensors",
    ]
    weights = load_safetensors_folder(back)
    assert set(weights) - set(ref) <= TIED
    assert_same_tensors({k: weights[k] for k in ref}, ref)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("source", ["tf_base", "flax_base", "pt_base"])
def test_base_model_checkpoints_keep_each_frameworks_prefix_convention(tmp_path, source, target):
    """TF nests the main layer ('bert/...') even for TFBertModel; Flax and torch base models do not."""
    out = convert(FIXTURES / source, tmp_path / "out", "--to", target)
    check_target(out, target, reference("pt_base"), fixture="tf_base" if target == "tf" else "flax_base")


def test_sharded_output_matches_transformers_sharding(tmp_path):
    out = convert(FIXTURES / "pt", tmp_path / "flax", "--to", "flax", "--max-shard-size", "8KB")
    for name in os.listdir(FIXTURES / "flax_sharded"):  # shards and index, byte for byte
        assert (out / name).read_bytes() == (FIXTURES / "flax_sharded" / name).read_bytes(), name
    out = convert(FIXTURES / "pt", tmp_path / "tf", "--to", "tf", "--max-shard-size", "8KB")
    index = json.loads((out / "tf_model.h5.index.json").read_text())
    theirs = json.loads((FIXTURES / "tf_sharded" / "tf_model.h5.index.json").read_text())
    assert set(index["weight_map"]) == set(theirs["weight_map"]) and index["metadata"] == theirs["metadata"]
    datasets = {}
    for shard in sorted(set(index["weight_map"].values())):
        dump = h5_dump(out / shard)
        datasets.update({k: v for k, v in dump.items() if k != "/"})
    expected = {}
    for shard in sorted(set(theirs["weight_map"].values())):
        expected.update({k: v for k, v in h5_dump(FIXTURES / "tf_sharded" / shard).items() if k != "/"})
    assert datasets == expected


@pytest.mark.parametrize("target", ["safetensors", "pt"])
def test_sharded_in_and_out(tmp_path, target):
    ref = reference()
    out = convert(FIXTURES / "flax_sharded", tmp_path / "out", "--to", target, "--max-shard-size", "10KB")
    single, index_name = {
        "safetensors": ("model.safetensors", "model.safetensors.index.json"),
        "pt": ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    }[target]
    index = json.loads((out / index_name).read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and not (out / single).exists()
    assert sorted(p for p in os.listdir(out) if p not in ("config.json", index_name)) == shards
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in ref.values())
    weights = load_safetensors_folder(out) if target == "safetensors" else load_torch_folder(out)
    assert_same_tensors(weights, ref)
    assert set(index["weight_map"]) == set(ref)
    assert_same_tensors(load_safetensors_folder(convert(out, tmp_path / "back")), ref)


def _write_safetensors(
    folder: Path, tensors: dict[str, np.ndarray], config: Path = FIXTURES / "pt" / "config.json"
) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(config.read_text())
    return folder


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("target", ["safetensors", "pt", "tf", "flax"])
def test_half_precision_is_preserved_through_every_format(tmp_path, dtype, target):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    np_dtype = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    half = {k: v.astype(np_dtype) for k, v in reference().items()}
    src = _write_safetensors(tmp_path / "src", half)
    if target == "tf" and dtype == "bfloat16":
        assert cli("convert", src, tmp_path / "out", "--to", "tf") == 2  # h5 has no bfloat16
        assert not (tmp_path / "out").exists()
        return
    out = convert(src, tmp_path / "out", "--to", target)
    back = convert(out, tmp_path / "back")
    assert_same_tensors(load_safetensors_folder(back), half)


def test_legacy_writers_in_half_precision_read_back_exactly(tmp_path):
    """fp16 TF and Flax files written in transformers 4.x layout convert to the same fp16 canonical weights."""
    pytest.importorskip("flax")
    half = {k: v.astype(np.float16) for k, v in reference().items()}
    (tmp_path / "tf").mkdir()
    hf4_layout.write_tf_h5(str(tmp_path / "tf" / "tf_model.h5"), half, TOP_SCOPE)
    (tmp_path / "flax").mkdir()
    hf4_layout.write_flax_msgpack(str(tmp_path / "flax" / "flax_model.msgpack"), half)
    for name in ("tf", "flax"):
        (tmp_path / name / "config.json").write_text((FIXTURES / "pt" / "config.json").read_text())
        assert_same_tensors(load_safetensors_folder(convert(tmp_path / name, tmp_path / f"{name}-out")), half)


def test_dtype_casts_floats_like_torch_and_records_it_in_the_config(tmp_path):
    ref = reference()
    state = {k: torch.from_numpy(v) for k, v in ref.items()}
    out = convert(FIXTURES / "tf", tmp_path / "bf16", "--dtype", "bfloat16", "--to", "pt")
    loaded = torch.load(out / "pytorch_model.bin", weights_only=True)
    for name, tensor in state.items():
        assert loaded[name].dtype == torch.bfloat16
        assert torch.equal(loaded[name].view(torch.int16), tensor.to(torch.bfloat16).view(torch.int16)), name
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    out = convert(FIXTURES / "flax", tmp_path / "fp16", "--dtype", "float16")
    assert_same_tensors(load_safetensors_folder(out), {k: v.astype(np.float16) for k, v in ref.items()})
    ints = _write_safetensors(
        tmp_path / "ints", {**ref, "bert.embeddings.position_ids": np.arange(24, dtype=np.int64)[None]}
    )
    weights = load_safetensors_folder(convert(ints, tmp_path / "ints-out", "--dtype", "float16"))
    assert weights["bert.embeddings.position_ids"].dtype == np.int64  # only floating-point tensors are cast


def test_config_tokenizer_and_preprocessor_files_are_copied(tmp_path):
    src = copy_fixture("tf", tmp_path / "src")
    files = {
        "vocab.txt": "[PAD]\nhello\n",
        "tokenizer_config.json": "{}",
        "special_tokens_map.json": "{}",
        "tokenizer.json": "{}",
        "generation_config.json": "{}",
        "preprocessor_config.json": "{}",
        "notes.txt": "x",
    }
    for name, text in files.items():
        (src / name).write_text(text)
    out = convert(src, tmp_path / "out")
    for name, text in files.items():
        if name == "notes.txt":
            assert not (out / name).exists()
        else:
            assert (out / name).read_text() == text
    assert (out / "config.json").read_text() == (src / "config.json").read_text()


def test_a_hub_repo_id_is_a_source(hub_server, fresh_hf_cache, tmp_path):
    repo_id = hub_server.new_repo_id("tf-sharded")
    repo = hub_server.create_repo(repo_id)
    files = {p.name: p.read_bytes() for p in (FIXTURES / "tf_sharded").iterdir()}
    hub_server.commit(repo, "main", "upload", files)
    out = convert(Path(repo_id), tmp_path / "out")  # a repo id, not a folder
    assert_same_tensors(load_safetensors_folder(out), reference())


def test_force_replaces_an_existing_output_atomically(tmp_path):
    out = tmp_path / "out"
    convert(FIXTURES / "pt", out, "--to", "flax")
    convert(FIXTURES / "flax", out, "--force")
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary folders left behind


def test_force_never_deletes_a_users_files(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli("convert", FIXTURES / "flax", out, "--force") == 2
    assert "notes.txt" in capsys.readouterr().err
    assert os.listdir(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
    assert (
        cli("convert", FIXTURES / "flax", tmp_path, "--force") == 2
    )  # OUT contains other files, and SRC's parent


# --------------------------------------------------------------------------------------
# Errors: exit 2, one line naming the file, no traceback, OUT untouched
# --------------------------------------------------------------------------------------
def _truncate(folder: Path) -> str:
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    return "model.safetensors"


def _corrupt_header(folder: Path) -> str:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", data[:8])
    data[8 : 8 + header_len] = b"{" + b"!" * (header_len - 1)
    path.write_bytes(bytes(data))
    return "model.safetensors"


def _wrong_shape(folder: Path) -> str:
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] += 1
    (folder / "config.json").write_text(json.dumps(config))
    return "model.safetensors"


def _unknown_metadata_format(folder: Path) -> str:
    from safetensors.numpy import load_file, save_file

    save_file(
        load_file(str(folder / "model.safetensors")),
        str(folder / "model.safetensors"),
        metadata={"format": "keras"},
    )
    return "model.safetensors"


def _no_weights(folder: Path) -> str:
    os.rename(folder / "model.safetensors", folder / "model.onnx")
    return str(folder.resolve())


def _corrupt_h5(folder: Path) -> str:
    os.unlink(folder / "model.safetensors")
    data = (FIXTURES / "tf" / "tf_model.h5").read_bytes()
    (folder / "tf_model.h5").write_bytes(data[: len(data) // 3])
    return "tf_model.h5"


def _corrupt_msgpack(folder: Path) -> str:
    os.unlink(folder / "model.safetensors")
    data = (FIXTURES / "flax" / "flax_model.msgpack").read_bytes()
    (folder / "flax_model.msgpack").write_bytes(data[: len(data) // 2])
    return "flax_model.msgpack"


ERRORS = {
    "truncated safetensors": _truncate,
    "corrupt header": _corrupt_header,
    "shape does not fit the architecture": _wrong_shape,
    "unknown format in metadata": _unknown_metadata_format,
    "no weights": _no_weights,
    "corrupt h5": _corrupt_h5,
    "truncated msgpack": _corrupt_msgpack,
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_naming_the_file_and_leave_out_untouched(tmp_path, capsys, case):
    src = copy_fixture("pt", tmp_path / "src")
    named = ERRORS[case](src)
    capsys.readouterr()
    assert cli("convert", src, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rosetta convert: error: "), err
    assert named in err, err
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["src"]  # no OUT, no temporary folder


def test_a_shape_error_names_the_tensor_and_both_shapes(tmp_path, capsys):
    src = copy_fixture("pt", tmp_path / "src")
    _wrong_shape(src)
    assert cli("convert", src, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "bert.encoder.layer.0.intermediate.dense.weight" in err and "(20, 16)" in err and "(21, 16)" in err


def test_an_unknown_file_is_refused(tmp_path, capsys):
    (tmp_path / "weights.ckpt").write_bytes(b"\0" * 16)
    assert cli("convert", tmp_path / "weights.ckpt", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights.ckpt" in err and "unknown checkpoint format" in err


def test_an_existing_out_is_refused_without_force(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert cli("convert", FIXTURES / "pt", out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "--force" in err
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_the_command_line_prints_no_traceback_unless_debug(tmp_path):
    src = copy_fixture("pt", tmp_path / "src")
    _truncate(src)
    run = subprocess.run(
        [sys.executable, "-m", "rosetta", "convert", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "model.safetensors is truncated" in run.stderr, run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "rosetta", "--debug", "convert", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "Traceback" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args", [["--help"], ["convert", "--help"], ["verify", "--help"], ["env", "--help"], ["env"]]
)
def test_help_of_every_command_and_env(args):
    run = subprocess.run([sys.executable, "-m", "rosetta", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    if args == ["env"]:
        assert "rosetta" in run.stdout and "torch" in run.stdout
    else:
        assert "usage: rosetta" in run.stdout
    if args == ["convert", "--help"]:
        assert "--max-shard-size" in run.stdout and "--dtype" in run.stdout and "--force" in run.stdout
