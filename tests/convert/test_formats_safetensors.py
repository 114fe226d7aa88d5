"""The safetensors reader refuses every malformed header the safetensors library refuses, naming the
file and the tensor; shard indexes cannot lead outside the model folder."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from rosetta.convert.formats import find_checkpoint, load_checkpoint
from rosetta.convert.formats.safetensors import SafetensorsFile
from rosetta.convert.sharding import write_checkpoint
from rosetta.core.errors import CheckpointError


def raw_file(path, header, data: bytes = b"", header_bytes: bytes | None = None) -> str:
    """A safetensors file written byte by byte, whatever its header says."""
    body = header_bytes if header_bytes is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body)) + body + data)
    return str(path)


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


# case -> (header, data, the tensor the message must name)
BAD_HEADERS = {
    "overlapping offsets": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, bytes(12), "b"),
    "negative offset": ({"a": entry(offsets=(-8, 0))}, bytes(8), "a"),
    "zero-length range for a non-empty shape": ({"a": entry(offsets=(0, 0))}, b"", "a"),
    "offsets outside the data": ({"a": entry(offsets=(0, 8))}, bytes(4), "a"),
    "range does not match the shape": ({"a": entry(shape=(3,), offsets=(0, 8))}, bytes(8), "a"),
    "gap between tensors": ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, bytes(20), "b"),
    "unknown dtype": ({"a": entry(dtype="F128")}, bytes(8), "a"),
    "non-list offsets": (
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": {"0": 0, "1": 8}}},
        bytes(8),
        "a",
    ),
    "offsets of three numbers": ({"a": entry(offsets=(0, 8, 16))}, bytes(8), "a"),
    "float offsets": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, bytes(8), "a"),
    "negative dimension": ({"a": entry(shape=(-2,), offsets=(0, 8))}, bytes(8), "a"),
    "entry not an object": ({"a": [0, 8]}, bytes(8), "a"),
    "metadata not strings": ({"__metadata__": {"format": 1}, "a": entry()}, bytes(8), "__metadata__"),
}


def _library_refuses(path: str) -> bool:
    safetensors = pytest.importorskip("safetensors")
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                f.get_tensor(name)
    except Exception:  # noqa: BLE001 - the library raises several types
        return True
    return False


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_each_malformed_header_is_refused_by_both_readers(tmp_path, case):
    header, data, tensor = BAD_HEADERS[case]
    path = raw_file(tmp_path / "model.safetensors", header, data)
    assert _library_refuses(path), f"the safetensors library accepts {case}: the case is not a bad file"
    with pytest.raises(CheckpointError) as err:
        SafetensorsFile(path)
    assert path in str(err.value) and repr(tensor) in str(err.value)


@pytest.mark.parametrize(
    "case, body",
    [
        ("header not an object", b"[1, 2]  "),
        ("header not JSON", b"{not json"),
        ("header not UTF-8", b'{"\xff": 1}'),
    ],
)
def test_headers_that_are_not_a_json_object_are_refused(tmp_path, case, body):
    path = raw_file(tmp_path / "model.safetensors", None, header_bytes=body)
    assert _library_refuses(path)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        SafetensorsFile(path)


def test_a_header_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10**9) + b"{}")
    assert _library_refuses(str(path))
    with pytest.raises(CheckpointError, match="header claims 1000000000 bytes"):
        SafetensorsFile(path)
    path.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match="shorter than its 8-byte header size"):
        SafetensorsFile(path)


def test_valid_edge_cases_both_readers_accept(tmp_path):
    header = {
        "empty": entry(shape=(0, 3), offsets=(0, 0)),
        "b": entry(dtype="U8", shape=(3,), offsets=(0, 3)),
    }
    path = raw_file(tmp_path / "model.safetensors", header, b"\x01\x02\x03")
    assert not _library_refuses(path)
    reader = SafetensorsFile(path)
    assert reader["empty"].shape == (0, 3)
    np.testing.assert_array_equal(reader["b"], [1, 2, 3])


def _sharded(folder) -> dict:
    write_checkpoint(
        folder, {"a": np.ones(64, np.float32), "b": np.zeros(64, np.float32)}, max_shard_size=300
    )
    return json.loads((folder / "model.safetensors.index.json").read_text())


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../x", "..\\x", "C:x"])
def test_an_index_naming_a_file_outside_the_folder_is_refused(tmp_path, shard):
    folder = tmp_path / "model"
    index = _sharded(folder)
    index["weight_map"]["a"] = shard
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="not a file name inside the model folder"):
        find_checkpoint(folder)


def test_an_index_whose_shard_is_a_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    index = _sharded(folder)
    first = index["weight_map"]["a"]
    os.replace(folder / first, tmp_path / "elsewhere.safetensors")
    os.symlink(tmp_path / "elsewhere.safetensors", folder / first)
    with pytest.raises(CheckpointError, match="outside the model folder"):
        load_checkpoint(folder)


def test_an_index_whose_shard_is_a_symlink_inside_the_folder_loads(tmp_path):
    folder = tmp_path / "model"
    index = _sharded(folder)
    first = index["weight_map"]["a"]
    os.replace(folder / first, folder / "real.safetensors")
    os.symlink("real.safetensors", folder / first)
    assert sorted(load_checkpoint(folder)) == ["a", "b"]


def test_an_index_that_is_not_a_map_of_names_is_refused(tmp_path):
    folder = tmp_path / "model"
    _sharded(folder)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": 3}}))
    with pytest.raises(CheckpointError, match="weight_map"):
        find_checkpoint(folder)


def test_shards_of_two_saves_are_refused(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _sharded(one)
    _sharded(two)
    os.replace(two / "model-00002-of-00002.safetensors", one / "model-00002-of-00002.safetensors")
    with pytest.raises(CheckpointError, match="different saves"):
        load_checkpoint(one)
