"""Legacy framework files: readers against files transformers 4.46 wrote, writers byte for byte against
flax.serialization and torch.save, and the name rules both ways."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from rosetta.convert.formats import find_checkpoint, open_checkpoint
from rosetta.convert.formats.base import TensorSpec, st_dtype_of
from rosetta.convert.formats.h5 import H5File, load_h5_attribute, save_h5_attribute
from rosetta.convert.formats.msgpack import MsgpackFile, MsgpackWriter
from rosetta.convert.formats.naming import (
    guess_kind,
    keras_scope,
    legacy_naming,
    native_name,
    tf_canonical_name,
    to_canonical_reader,
)
from rosetta.convert.formats.torch_bin import TorchBinWriter
from rosetta.core.errors import CheckpointError

from . import hf4_layout
from .helpers import FIXTURES, TOP_SCOPE, h5_dump, reference

LEGACY_FIXTURES = ["pt_bin", "tf", "tf_sharded", "tf_safetensors", "flax", "flax_sharded", "flax_safetensors"]


@pytest.mark.parametrize("name", LEGACY_FIXTURES + ["tf_base", "flax_base"])
def test_every_transformers_446_layout_reads_as_the_canonical_weights(name):
    ref = reference("pt_base" if name.endswith("_base") else "pt")
    fmt, files = find_checkpoint(FIXTURES / name)
    with to_canonical_reader(open_checkpoint(fmt, files), fmt) as reader:
        names = set(reader)
        if name == "pt_bin":  # transformers 4.x .bin files also hold the tied decoder
            names -= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
        if name == "tf_base":  # TF always nests the main layer
            names = {n.removeprefix("bert.") for n in names}
            assert all(n.startswith("bert.") for n in reader)
        assert names == set(ref)
        for key in ref:
            native = key if key in reader else "bert." + key
            assert reader[native].dtype == ref[key].dtype and reader[native].shape == ref[key].shape
            assert reader.shape(native) == ref[key].shape
            np.testing.assert_array_equal(reader[native], ref[key])


def test_h5_reader_names_drop_the_model_scope_as_transformers_does():
    with H5File(FIXTURES / "tf" / "tf_model.h5") as reader:
        assert "bert/encoder/layer_._0/attention/self/query/kernel:0" in reader
        assert "mlm___cls/predictions/bias:0" in reader
        assert reader.dtype("nsp___cls/seq_relationship/kernel:0") == "F32"


def test_tf_names_map_with_transformers_rules():
    assert tf_canonical_name("mlm___cls/predictions/bias:0", 1) == ("cls.predictions.bias", "identity")
    assert tf_canonical_name("bert/encoder/layer_._11/output/dense/kernel:0", 2) == (
        "bert.encoder.layer.11.output.dense.weight",
        "linear",
    )
    assert tf_canonical_name("bert/embeddings/LayerNorm/gamma:0", 1) == (
        "bert.embeddings.LayerNorm.weight",
        "identity",
    )
    assert (
        tf_canonical_name("bert/embeddings/position_embeddings/embeddings:0", 2)[0]
        == "bert.embeddings.position_embeddings.weight"
    )
    assert tf_canonical_name("vit/embeddings/patch_embeddings/projection/kernel:0", 4)[1] == "conv2d"


@pytest.mark.parametrize("fmt", ["tf", "flax"])
def test_native_names_invert_the_canonical_mapping_for_every_bert_weight(fmt):
    ref = reference()
    naming = legacy_naming("bert")
    for name, value in ref.items():
        kind = guess_kind(name, value.ndim)
        native, layout = native_name(name, kind, fmt, naming)
        if fmt == "tf":
            expected, transposed = hf4_layout.bert_tf_name(name)
            assert tf_canonical_name(native, value.ndim) == (name, layout)
        else:
            path, transposed = hf4_layout.bert_flax_path(name)
            expected = "/".join(path)
        assert native == expected
        assert (layout == "linear") == transposed


def test_keras_scope_names():
    assert keras_scope("TFBertForPreTraining") == TOP_SCOPE
    assert keras_scope("TFBertForMaskedLM") == "tf_bert_for_masked_lm"
    assert keras_scope("TFBertModel") == "tf_bert_model"


def test_the_in_test_writers_follow_transformers_446_exactly(tmp_path):
    """The fixture writers used by the other tests produce what transformers 4.46 wrote."""
    ref = reference()
    hf4_layout.write_tf_h5(str(tmp_path / "tf_model.h5"), ref, TOP_SCOPE)
    assert h5_dump(tmp_path / "tf_model.h5") == h5_dump(FIXTURES / "tf" / "tf_model.h5")
    pytest.importorskip("flax")
    hf4_layout.write_flax_msgpack(str(tmp_path / "flax_model.msgpack"), ref)
    assert (tmp_path / "flax_model.msgpack").read_bytes() == (
        FIXTURES / "flax" / "flax_model.msgpack"
    ).read_bytes()


def _nested_params():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    return {
        "bert": {
            "embeddings": {"word_embeddings": {"embedding": rng.standard_normal((99, 8)).astype(np.float32)}},
            "encoder": {
                "layer": {
                    str(i): {
                        "dense": {
                            "kernel": rng.standard_normal((9, 7)).astype(np.float16),
                            "bias": rng.standard_normal(7).astype(ml_dtypes.bfloat16),
                        }
                    }
                    for i in range(12)
                }
            },
        },
        "ids": np.arange(300, dtype=np.int64),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def _flatten(tree, prefix=()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, (*prefix, key))
        else:
            yield "/".join((*prefix, key)), value


def _sorted(tree):
    return {k: _sorted(v) if isinstance(v, dict) else v for k, v in sorted(tree.items())}


def _write_msgpack(path, arrays):

    specs = [TensorSpec(n, a.shape, st_dtype_of(a)) for n, a in arrays.items()]
    writer = MsgpackWriter(str(path), specs)
    for spec in MsgpackWriter.ordered(specs):
        writer.write(spec, arrays[spec.name])
    writer.close()


@pytest.mark.parametrize("chunk_size", [None, 1000])
def test_msgpack_writer_is_byte_identical_to_flax_to_bytes(tmp_path, monkeypatch, chunk_size):
    serialization = pytest.importorskip("flax.serialization")
    params = _nested_params()
    if chunk_size:  # flax splits arrays past MAX_CHUNK_SIZE; so must we
        monkeypatch.setattr(serialization, "MAX_CHUNK_SIZE", chunk_size)
        monkeypatch.setattr(MsgpackWriter, "MAX_CHUNK_SIZE", chunk_size)
    arrays = dict(_flatten(params))
    _write_msgpack(tmp_path / "x.msgpack", arrays)
    assert (tmp_path / "x.msgpack").read_bytes() == serialization.to_bytes(
        _sorted(params)
    )  # JAX keeps keys sorted
    with MsgpackFile(tmp_path / "x.msgpack") as reader:
        assert set(reader) == set(arrays)
        for name, value in arrays.items():
            assert reader[name].dtype == value.dtype and reader[name].shape == value.shape
            assert reader[name].tobytes() == value.tobytes()


def test_msgpack_reader_rejects_truncated_and_foreign_files(tmp_path):
    arrays = dict(_flatten(_nested_params()))
    _write_msgpack(tmp_path / "x.msgpack", arrays)
    data = (tmp_path / "x.msgpack").read_bytes()
    (tmp_path / "cut.msgpack").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.msgpack"):
        MsgpackFile(tmp_path / "cut.msgpack")
    (tmp_path / "json.msgpack").write_bytes(b'{"not": "msgpack"}')
    with pytest.raises(CheckpointError, match="json.msgpack"):
        MsgpackFile(tmp_path / "json.msgpack")


def test_torch_bin_writer_is_what_torch_save_writes(tmp_path):
    torch = pytest.importorskip("torch")
    from rosetta.backends.torch.modeling_utils import torch_to_numpy

    state = {
        "a.weight": torch.randn(4, 3),
        "b": torch.randn(5).half(),
        "c": torch.arange(7),
        "d": torch.randn(3, 2).bfloat16(),
        "s": torch.tensor(2.5),
        "e": torch.zeros(0, 3),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    arrays = {k: torch_to_numpy(v) for k, v in state.items()}
    specs = [TensorSpec(k, tuple(v.shape), st_dtype_of(v)) for k, v in arrays.items()]
    writer = TorchBinWriter(str(tmp_path / "pytorch_model.bin"), specs)
    for spec in specs:
        writer.write(spec, arrays[spec.name])
    writer.close()
    ours, theirs = zipfile.ZipFile(tmp_path / "pytorch_model.bin"), zipfile.ZipFile(buffer)
    assert [n.split("/", 1)[1] for n in ours.namelist()] == [n.split("/", 1)[1] for n in theirs.namelist()]
    assert ours.read("pytorch_model/data.pkl") == theirs.read(theirs.namelist()[0])
    loaded = torch.load(tmp_path / "pytorch_model.bin", weights_only=True, mmap=True)
    for key, tensor in state.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor)


def test_keras_attributes_are_chunked_past_the_object_header_limit(tmp_path):
    h5py = pytest.importorskip("h5py")
    names = [f"tf_model/layer_._{i}/some/rather/long/weight/name/kernel:0" for i in range(3000)]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        save_h5_attribute(f, "weight_names", names)
        assert "weight_names" not in f.attrs and "weight_names0" in f.attrs
        assert load_h5_attribute(f, "weight_names") == names


def test_h5_reader_rejects_files_that_are_not_keras_weights(tmp_path):
    h5py = pytest.importorskip("h5py")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(CheckpointError, match="text.h5"):
        H5File(tmp_path / "text.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(CheckpointError, match="plain.h5.*layer_names"):
        H5File(tmp_path / "plain.h5")
