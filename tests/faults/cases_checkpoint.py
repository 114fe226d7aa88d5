"""Checkpoint faults: bad files in a model folder. Each is checked in every backend's from_pretrained
(BertModel, TFBertModel, FlaxBertModel) and in `rosetta convert` / `rosetta verify` as subprocesses:
the backends raise the named error with the message, convert exits 2 naming it and writes no OUT,
verify never says PASS."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rosetta.core.errors import CheckpointError, ConfigError, WeightsMismatchError

from .base import FaultCase, rosetta_cli

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "vocab_size": 99,
}
BACKENDS = {"torch": "BertModel", "tf": "TFBertModel", "flax": "FlaxBertModel"}
FRAMEWORK_MODULES = {"torch": "torch", "tf": "tensorflow", "flax": "flax"}
ALL_TARGETS = ("torch", "tf", "flax", "convert", "verify")


def good_checkpoint(folder: Path) -> Path:
    """A tiny BERT saved by rosetta (written once per session, copied per case)."""
    cache = Path(os.environ.get("PYTEST_FAULTS_CACHE", "/tmp")) / f"rosetta-faults-tiny-bert-{os.getuid()}"
    if not (cache / "config.json").exists():
        from rosetta import BertConfig, BertModel

        BertModel(BertConfig(**TINY)).save_pretrained(cache)
    shutil.copytree(cache, folder)
    return folder


def _header_of(folder: Path) -> tuple[dict, bytes]:
    data = (folder / "model.safetensors").read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _rewrite(folder: Path, edit: Callable[[dict], None]) -> None:
    header, body = _header_of(folder)
    edit(header)
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def _tensor(header: dict, index: int = 0) -> str:
    return sorted(k for k in header if k != "__metadata__")[index]


def overlapping_offsets(folder: Path) -> None:
    def edit(header: dict) -> None:
        first, second = (header[_tensor(header, i)] for i in (0, 1))
        second["data_offsets"] = list(first["data_offsets"])
        second["shape"], second["dtype"] = first["shape"], first["dtype"]

    _rewrite(folder, edit)


def negative_offset(folder: Path) -> None:
    _rewrite(folder, lambda h: h[_tensor(h)]["data_offsets"].__setitem__(0, -4))


def zero_length_range(folder: Path) -> None:
    def edit(header: dict) -> None:
        start = header[_tensor(header)]["data_offsets"][0]
        header[_tensor(header)]["data_offsets"] = [start, start]

    _rewrite(folder, edit)


def offsets_past_the_data(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:-64])


def unknown_dtype(folder: Path) -> None:
    _rewrite(folder, lambda h: h[_tensor(h)].__setitem__("dtype", "F128"))


def non_dict_header(folder: Path) -> None:
    raw = b"[1, 2, 3]"
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)


def non_list_offsets(folder: Path) -> None:
    _rewrite(folder, lambda h: h[_tensor(h)].__setitem__("data_offsets", "0-128"))


def header_length_past_the_file(folder: Path) -> None:
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[:8] = struct.pack("<Q", 2**40)
    (folder / "model.safetensors").write_bytes(bytes(data))


def _shard(folder: Path, shard_of_first: str) -> None:
    """The checkpoint as an index (its one shard renamed), the first tensor mapped to `shard_of_first`."""
    header, _ = _header_of(folder)
    os.rename(folder / "model.safetensors", folder / "model-00001-of-00001.safetensors")
    weight_map = {name: "model-00001-of-00001.safetensors" for name in header if name != "__metadata__"}
    weight_map[_tensor(header)] = shard_of_first
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))


def index_parent_path(folder: Path) -> None:
    _shard(folder, "../outside.safetensors")


def index_absolute_path(folder: Path) -> None:
    _shard(folder, "/etc/passwd")


def index_symlink_out(folder: Path) -> None:
    _shard(folder, "model-00001-of-00001.safetensors")
    os.rename(folder / "model-00001-of-00001.safetensors", folder.parent / "elsewhere.safetensors")
    os.symlink(folder.parent / "elsewhere.safetensors", folder / "model-00001-of-00001.safetensors")


def _only(folder: Path, name: str, data: bytes) -> None:
    os.unlink(folder / "model.safetensors")
    (folder / name).write_bytes(data)


def nested_msgpack(folder: Path) -> None:
    _only(folder, "flax_model.msgpack", b"\x81\xa1a" * 50_000 + b"\xc0")


def malformed_msgpack(folder: Path) -> None:
    _only(folder, "flax_model.msgpack", b"\x81\xa1a\xc6\xff\xff\xff\xff")


def bin_not_a_dict(folder: Path) -> None:
    import torch

    os.unlink(folder / "model.safetensors")
    torch.save([torch.zeros(3)], folder / "pytorch_model.bin")


def bin_with_code(folder: Path) -> None:
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch /tmp/rosetta-fault-pickle-ran",))

    os.unlink(folder / "model.safetensors")
    torch.save({"w": Payload()}, folder / "pytorch_model.bin")


def h5_wrong_shapes(folder: Path) -> None:
    import h5py
    import numpy as np

    os.unlink(folder / "model.safetensors")
    with h5py.File(folder / "tf_model.h5", "w") as f:
        f.attrs["layer_names"] = [b"bert"]
        group = f.create_group("bert")
        name = "tf_bert_model/bert/embeddings/word_embeddings/weight:0"
        group.attrs["weight_names"] = [name.encode()]
        group.create_dataset(name, data=np.zeros((99, 5), np.float32))


def pre_zip_bin(folder: Path) -> None:
    import torch

    from rosetta.convert.formats import load_checkpoint

    with load_checkpoint(folder) as reader:
        state = {name: torch.from_numpy(reader[name].copy()) for name in reader}
    os.unlink(folder / "model.safetensors")
    torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)


def _config_asks_for(**fields: object) -> Callable[[Path], None]:
    """A 1 KB config.json asking for sizes the tiny checkpoint beside it does not hold."""

    def make(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **fields}))

    return make


@dataclass(frozen=True)
class CheckpointFault(FaultCase):
    make: Callable[[Path], None] = lambda folder: None
    needs: tuple[str, ...] = ()  # modules the fault itself needs to be written
    targets: tuple[str, ...] = field(default=ALL_TARGETS, kw_only=True)

    def check(self, target: str, tmp_path: Path) -> None:
        for module in self.needs:
            pytest.importorskip(module)
        folder = good_checkpoint(tmp_path / "model")
        self.make(folder)
        if target in BACKENDS:
            self._check_backend(target, folder)
        elif target == "convert":
            self._check_convert(folder, tmp_path / "out")
        else:
            self._check_verify(folder)

    def _check_backend(self, framework: str, folder: Path) -> None:
        pytest.importorskip(FRAMEWORK_MODULES[framework])
        import rosetta

        cls = getattr(rosetta, BACKENDS[framework])
        if self.error is None:
            cls.from_pretrained(folder)
            return
        with pytest.raises(self.error) as err:
            cls.from_pretrained(folder)
        assert self.message in str(err.value), str(err.value)

    def _check_convert(self, folder: Path, out: Path) -> None:
        run = rosetta_cli("convert", folder, out, "--quiet")
        if self.error is None:
            assert run.returncode == 0, run.stderr
            return
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr and self.message in run.stderr, run.stderr
        assert not out.exists()

    def _check_verify(self, folder: Path) -> None:
        installed = [f for f in ("torch", "flax", "tf") if importlib.util.find_spec(FRAMEWORK_MODULES[f])]
        run = rosetta_cli(
            "verify", folder, "--frameworks", ",".join(installed[:2])
        )  # two: the reader is shared
        if self.error is None:
            assert run.returncode == 0, run.stdout + run.stderr
            return
        assert run.returncode != 0 and "PASS" not in run.stdout, run.stdout
        assert "Traceback" not in run.stderr, run.stderr


CASES = [
    CheckpointFault("st-overlap", "safetensors data_offsets overlap", CheckpointError, "starts at byte", overlapping_offsets),
    CheckpointFault("st-negative", "a negative data offset", CheckpointError, "invalid data_offsets", negative_offset),
    CheckpointFault("st-zero-range", "a zero-length range for a non-empty shape", CheckpointError, "needs", zero_length_range),
    CheckpointFault("st-truncated", "offsets outside the data", CheckpointError, "is truncated", offsets_past_the_data),
    CheckpointFault("st-dtype", "an unknown dtype", CheckpointError, "unknown dtype 'F128'", unknown_dtype),
    CheckpointFault("st-header-list", "a header that is not a dict", CheckpointError, "JSON object", non_dict_header),
    CheckpointFault("st-offsets-str", "data_offsets not a list", CheckpointError, "invalid data_offsets", non_list_offsets),
    CheckpointFault("st-header-len", "a header length beyond the file", CheckpointError, "header claims", header_length_past_the_file),
    CheckpointFault("index-parent", "an index naming ../x", CheckpointError, "not a file name inside", index_parent_path),
    CheckpointFault("index-absolute", "an index naming an absolute path", CheckpointError, "not a file name inside", index_absolute_path),
    CheckpointFault("index-symlink", "an index shard linking out of the folder", CheckpointError, "outside the model folder", index_symlink_out),
    CheckpointFault("msgpack-nested", "msgpack nested 50000 levels", CheckpointError, "nested deeper", nested_msgpack),
    CheckpointFault("msgpack-length", "msgpack with a 4 GB length in 8 bytes", CheckpointError, "past the end", malformed_msgpack),
    CheckpointFault("bin-list", "a .bin holding a list", CheckpointError, "not a dict of tensors", bin_not_a_dict, needs=("torch",)),
    CheckpointFault("bin-pickle-code", "a .bin whose pickle calls os.system", CheckpointError, "weights_only", bin_with_code, needs=("torch",)),
    CheckpointFault("h5-shapes", "an h5 whose embeddings have the wrong shape", WeightsMismatchError, "(99, 5)", h5_wrong_shapes, needs=("h5py",)),
    CheckpointFault("bin-pre-zip", "a benign pre-zip pytorch_model.bin", None, "", pre_zip_bin, needs=("torch",)),
    CheckpointFault("config-100000-layers", "num_hidden_layers 100000 over a 2-layer checkpoint", ConfigError,
                    "num_hidden_layers=100000", _config_asks_for(num_hidden_layers=100000)),
    CheckpointFault("config-huge-vocab", "vocab_size 50,000,000 over a 99-token checkpoint", ConfigError,
                    "vocab_size=50000000", _config_asks_for(vocab_size=50_000_000)),
    CheckpointFault("config-huge-hidden", "hidden_size 40000 over a 32-wide checkpoint", ConfigError,
                    "hidden_size=40000", _config_asks_for(hidden_size=40_000, num_attention_heads=4, intermediate_size=37)),
]  # fmt: skip
