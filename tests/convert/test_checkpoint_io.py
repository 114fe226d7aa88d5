"""The canonical safetensors reader/writer: layout, sharding, dtypes, atomicity, memory mapping."""

import json
import os

import numpy as np
import pytest

from rosetta.convert.formats import load_checkpoint
from rosetta.convert.formats.safetensors import SafetensorsFile
from rosetta.convert.sharding import parse_size, write_checkpoint
from rosetta.core.errors import CheckpointError, MissingFileError


def tensors():
    rng = np.random.default_rng(0)
    return {
        "a.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "b.bias": rng.standard_normal(5).astype(np.float16),
        "c.ids": np.arange(7, dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float32),
    }


def test_byte_compatible_with_safetensors_library(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    write_checkpoint(tmp_path, tensors())
    loaded = safetensors.load_file(str(tmp_path / "model.safetensors"))
    for name, array in tensors().items():
        np.testing.assert_array_equal(loaded[name], array)
    safetensors.save_file(tensors(), str(tmp_path / "theirs.safetensors"), metadata={"format": "pt"})
    ours = SafetensorsFile(tmp_path / "theirs.safetensors")
    assert ours.metadata == {"format": "pt"}
    for name, array in tensors().items():
        np.testing.assert_array_equal(ours[name], array)
        assert ours.dtype(name) in ("F32", "F16", "I64")


def test_memory_mapped_copy_on_write(tmp_path):
    write_checkpoint(tmp_path, tensors())
    reader = SafetensorsFile(tmp_path / "model.safetensors")
    array = reader["a.weight"]
    assert isinstance(array.base, np.memmap) or isinstance(array.base.base, np.memmap)
    array[0, 0] = 1000.0  # copy-on-write: the file is untouched
    assert SafetensorsFile(tmp_path / "model.safetensors")["a.weight"][0, 0] != 1000.0


def test_bfloat16_round_trip(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    weights = {"w": np.array([1.5, -2.25, 3.0e-3], dtype=ml_dtypes.bfloat16)}
    write_checkpoint(tmp_path, weights)
    reader = SafetensorsFile(tmp_path / "model.safetensors")
    assert reader.dtype("w") == "BF16"
    assert reader["w"].tobytes() == weights["w"].tobytes()


def test_sharding_and_index(tmp_path):
    big = {f"layer.{i}.weight": np.full((256,), i, dtype=np.float32) for i in range(10)}  # 1 KB each
    files = write_checkpoint(tmp_path, big, max_shard_size="3KiB")
    assert len(files) == 4 and os.path.basename(files[0]) == "model-00001-of-00004.safetensors"
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == 10 * 1024
    assert index["weight_map"]["layer.9.weight"] == "model-00004-of-00004.safetensors"
    reader = load_checkpoint(tmp_path)
    assert sorted(reader) == sorted(big)
    np.testing.assert_array_equal(reader["layer.7.weight"], big["layer.7.weight"])


def test_failed_write_leaves_old_checkpoint(tmp_path):
    write_checkpoint(tmp_path, tensors())
    before = (tmp_path / "model.safetensors").read_bytes()

    class Exploding(dict):
        def __getitem__(self, key):
            if key == "b.bias":
                raise RuntimeError("disk on fire")
            return super().__getitem__(key)

    with pytest.raises(RuntimeError):
        write_checkpoint(tmp_path, Exploding(tensors()))
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors"]


def test_truncated_and_corrupt_files(tmp_path):
    write_checkpoint(tmp_path, tensors())
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        SafetensorsFile(tmp_path / "model.safetensors")
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        SafetensorsFile(tmp_path / "model.safetensors")


def test_missing_weights_error_names_what_was_looked_for(tmp_path):
    with pytest.raises(MissingFileError) as err:
        load_checkpoint(tmp_path)
    assert (
        "model.safetensors" in str(err.value)
        and "pytorch_model.bin" in str(err.value)
        and str(tmp_path) in str(err.value)
    )


def test_torch_bin_is_read_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(
        {"w": torch.arange(6.0).reshape(2, 3), "h": torch.ones(2, dtype=torch.bfloat16)},
        tmp_path / "pytorch_model.bin",
    )
    reader = load_checkpoint(tmp_path)
    np.testing.assert_array_equal(reader["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert reader.dtype("h") == "BF16"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"w": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(tmp_path)


def test_parse_size():
    assert parse_size("5GB") == 5 * 10**9 and parse_size("2MiB") == 2 * 2**20 and parse_size(100) == 100
    with pytest.raises(ValueError, match="5GB"):
        parse_size("lots")
