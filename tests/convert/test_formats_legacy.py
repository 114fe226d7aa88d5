"""Malformed legacy files (msgpack, torch .bin, h5) are named errors, never a RecursionError, a huge
allocation or a traceback; a benign pre-zip pytorch_model.bin loads."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from rosetta.convert.formats import load_checkpoint, open_checkpoint
from rosetta.convert.formats.msgpack import MsgpackFile
from rosetta.convert.formats.naming import to_canonical_reader
from rosetta.core.errors import CheckpointError


def _msgpack_cases() -> dict[str, bytes]:
    return {
        "nested 100000 maps deep": b"\x81\xa1a" * 100_000 + b"\xc0",
        "nested 100000 arrays deep": b"\x91" * 100_000 + b"\xc0",
        "a map claiming 4 billion entries": b"\xdf\xff\xff\xff\xff",
        "a string claiming 4 GB": b"\x81\xdb\xff\xff\xff\xff",
        "a binary claiming 4 GB": b"\x81\xa1a\xc6\xff\xff\xff\xff",
        "an unknown type byte": b"\x81\xa1a\xc1",
        "an unknown extension": b"\x81\xa1a\xd4\x09\x00",
        "not a map at the top": b"\x93\x01\x02\x03",
        "array bytes that do not fit its shape": (
            b"\x81\xa1a\xc7\x0f\x01\x93\x91\x04\xa7float32\xc4\x04\x00\x00\x00\x00"  # shape (4,), 4 bytes of data
        ),
        "an unsupported array dtype": b"\x81\xa1a\xc7\x0c\x01\x93\x91\x01\xa4<U10\xc4\x00",
        "empty file": b"",
    }


@pytest.mark.parametrize("case", list(_msgpack_cases()))
def test_malformed_msgpack_is_a_checkpoint_error(tmp_path, case):
    path = tmp_path / "flax_model.msgpack"
    path.write_bytes(_msgpack_cases()[case])
    with pytest.raises(CheckpointError, match="flax_model.msgpack is not a valid Flax msgpack checkpoint"):
        MsgpackFile(path)


def test_msgpack_flax_still_reads_what_flax_writes(tmp_path):
    serialization = pytest.importorskip("flax.serialization")
    params = {
        "a": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "b": {"bias": np.ones(2, np.float16)},
    }
    (tmp_path / "flax_model.msgpack").write_bytes(serialization.to_bytes(params))
    reader = MsgpackFile(tmp_path / "flax_model.msgpack")
    np.testing.assert_array_equal(reader["a/kernel"], params["a"]["kernel"])
    assert reader.dtype("b/bias") == "F16"


@pytest.mark.parametrize(
    "content",
    [[1, 2, 3], "a string", 3.5, {1: "not a name"}],
    ids=["list", "str", "float", "int keys"],
)
def test_a_bin_that_is_not_a_dict_of_tensors_is_refused(tmp_path, content):
    torch = pytest.importorskip("torch")
    if isinstance(content, float):
        content = torch.tensor(content)
    torch.save(content, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        load_checkpoint(tmp_path)


def test_a_pickle_with_code_is_refused_and_never_runs(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"w": Evil()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(tmp_path)
    assert not marker.exists()


def test_a_benign_pre_zip_bin_loads(tmp_path):
    torch = pytest.importorskip("torch")
    state = {
        "a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "b": torch.ones(2, dtype=torch.bfloat16),
    }
    torch.save(state, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    reader = load_checkpoint(tmp_path)
    np.testing.assert_array_equal(reader["a.weight"], state["a.weight"].numpy())
    assert reader.dtype("b") == "BF16" and reader.shape("b") == (2,)


def _h5_with_kernel(path, shape) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"bert"]
        group = f.create_group("bert")
        group.attrs["weight_names"] = [b"tf_bert_model/bert/pooler/dense/kernel:0"]
        group.create_dataset("tf_bert_model/bert/pooler/dense/kernel:0", data=np.zeros(shape, np.float32))


def test_an_h5_kernel_of_the_wrong_rank_is_a_named_error(tmp_path):
    _h5_with_kernel(tmp_path / "tf_model.h5", (4,))
    with pytest.raises(
        CheckpointError, match=r"'bert/pooler/dense/kernel:0' is a linear kernel of shape \(4,\)"
    ):
        to_canonical_reader(open_checkpoint("tf", [str(tmp_path / "tf_model.h5")]), "tf")


def test_an_h5_listing_a_weight_it_does_not_hold_is_a_named_error(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "tf_model.h5", "w") as f:
        f.attrs["layer_names"] = [b"bert"]
        f.create_group("bert").attrs["weight_names"] = [b"tf_bert_model/bert/missing/kernel:0"]
    with pytest.raises(CheckpointError, match="tf_model.h5 is not a valid TF weights file"):
        load_checkpoint(tmp_path)


def test_bounded_parser_reads_lengths_before_allocating(tmp_path):
    """A 4 GB length in a 9-byte file is refused from the file size alone (no read of 4 GB is tried)."""
    path = tmp_path / "flax_model.msgpack"
    path.write_bytes(b"\x81\xa1a\xc6" + struct.pack(">I", 2**32 - 1))
    with pytest.raises(CheckpointError, match="runs past the end of the file"):
        MsgpackFile(path)
