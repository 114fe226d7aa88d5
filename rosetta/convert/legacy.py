"""Hugging Face's legacy framework files, read and written: `tf_model.h5` and `flax_model.msgpack`.

These are the files transformers 4.x TF and Flax classes write, in their naming:

    tf_model.h5         Keras 2 `save_weights` h5: root attr `layer_names`, one group per layer
                        with attr `weight_names` ("tf_bert_for_masked_lm/bert/encoder/layer_._0/
                        attention/self/query/kernel:0"), a dataset at each of those names.
                        Shards (`tf_model-00001-of-0000N.h5`) hold datasets at the names without
                        the model's scope, listed in the root attr `layer_names`.
    flax_model.msgpack  `flax.serialization.to_bytes` of the nested params dict
                        ({"bert": {"encoder": {"layer": {"0": {...}}}}}), leaves `kernel`,
                        `scale`, `embedding`, `bias`; a base model's params lack the `bert` level.

Readers expose the `CheckpointReader` interface under the file's own names (TF names without
the model's scope, as transformers compares them; Flax paths joined with "/"); the h5 reader
reads one dataset at a time, the msgpack reader memory-maps the file and hands out views.
`to_canonical_reader` maps either naming (and TF/Flax-format safetensors) to canonical names
and layouts with transformers' own rules. The writers stream: they are told every name, shape
and dtype first and then take one tensor at a time, so no more than one is ever held.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import CheckpointError, ConversionError
from .checkpoint import CheckpointReader, numpy_dtype, release_pages, st_dtype_of
from .mapping import canonical_name, canonical_shape, from_canonical, to_canonical

# --------------------------------------------------------------------------------------
# tf_model.h5
# --------------------------------------------------------------------------------------
HDF5_OBJECT_HEADER_LIMIT = 64512  # Keras splits attributes larger than this into name0, name1, ...
KERAS_VERSION = "2.21.0"


def _h5py():
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - h5py comes with TensorFlow
        raise CheckpointError("Reading or writing tf_model.h5 needs h5py: `pip install h5py`.") from err
    return h5py


def load_h5_attribute(group: Any, name: str) -> list[str]:
    """A Keras list attribute, joined from its chunks `name0`, `name1`, ... when it was split."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def save_h5_attribute(group: Any, name: str, values: Sequence[str]) -> None:
    """Keras' `save_attributes_to_hdf5_group`: split into chunks past the object header limit."""
    data = [v.encode("utf8") for v in values]
    array = np.asarray(data)
    chunks = 1
    while any(part.nbytes > HDF5_OBJECT_HEADER_LIMIT for part in np.array_split(array, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data if data else array  # a list is stored as variable-length strings, as Keras does
        return
    for index, part in enumerate(np.array_split(array, chunks)):
        group.attrs[f"{name}{index}"] = part


def strip_model_scope(weight_name: str) -> str:
    """'tf_bert_model/bert/pooler/dense/kernel:0' -> 'bert/pooler/dense/kernel:0', as transformers loads it."""
    parts = weight_name.split("/")
    return "/".join(parts[1:]) if len(parts) > 1 else weight_name


class H5File(CheckpointReader):
    """A transformers TF `tf_model.h5` (or one of its shards); names without the model's scope."""

    def __init__(self, path: str | os.PathLike):
        h5py = _h5py()
        self.path = os.fspath(path)
        try:
            self._file = h5py.File(self.path, "r")
            self._paths = self._index()
        except (OSError, KeyError, ValueError) as err:
            raise CheckpointError(f"{self.path} is not a valid TF weights file ({_first_line(err)}).") from err
        self.metadata = {"format": "tf"}

    def _index(self) -> dict[str, str]:
        layers = load_h5_attribute(self._file, "layer_names")
        if not layers and "layer_names" not in self._file.attrs:
            raise ValueError("no 'layer_names' attribute: not written by Keras save_weights or transformers")
        paths: dict[str, str] = {}
        for layer in layers:
            node = self._file[layer]
            if hasattr(node, "shape"):  # a shard: the dataset itself, named without the model scope
                paths[layer] = layer
                continue
            for weight in load_h5_attribute(node, "weight_names"):
                paths[strip_model_scope(weight)] = f"{layer}/{weight}"
        return paths

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return np.asarray(self._file[self._paths[name]][()])
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{self.path}: could not read {name!r} ({_first_line(err)}).") from err

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def dtype(self, name: str) -> str:
        return _st_dtype(self._file[self._paths[name]].dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._file[self._paths[name]].shape)

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------------------
# flax_model.msgpack: a memory-mapped reader of the subset flax.serialization writes
# --------------------------------------------------------------------------------------
_EXT_NDARRAY, _EXT_COMPLEX, _EXT_NPSCALAR = 1, 2, 3
_CHUNKED = "__msgpack_chunked_array__"


@dataclass
class _ArrayRef:
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # of the raw bytes in the file
    nbytes: int


@dataclass
class _ChunkedRef:
    shape: tuple[int, ...]
    chunks: list[_ArrayRef] = field(default_factory=list)

    @property
    def dtype(self) -> np.dtype:
        return self.chunks[0].dtype


class _MsgpackParser:
    """Walks a msgpack stream, skipping array payloads (only their offsets are kept)."""

    def __init__(self, f: io.BufferedReader, size: int):
        self.f = f
        self.size = size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise ValueError("unexpected end of file")
        return data

    def unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def value(self) -> Any:
        b = self.take(1)[0]
        if b <= 0x7F or b >= 0xE0:
            return b if b <= 0x7F else b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return [self.value() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return self.take(b & 0x1F).decode("utf8")
        return self._typed(b)

    def _typed(self, b: int) -> Any:
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in simple:
            return simple[b]
        sized = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I", 0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
        if b in sized:
            data = self.take(self.unpack(sized[b]))
            return data if b <= 0xC6 else data.decode("utf8")
        numbers = {0xCA: ">f", 0xCB: ">d", 0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
        if b in numbers:
            return self.unpack(numbers[b])
        if b in (0xDC, 0xDD):
            return [self.value() for _ in range(self.unpack(">H" if b == 0xDC else ">I"))]
        if b in (0xDE, 0xDF):
            return self.map(self.unpack(">H" if b == 0xDE else ">I"))
        if 0xD4 <= b <= 0xD8:
            return self.ext(1 << (b - 0xD4))
        if b in (0xC7, 0xC8, 0xC9):
            return self.ext(self.unpack({0xC7: ">B", 0xC8: ">H", 0xC9: ">I"}[b]))
        raise ValueError(f"unsupported msgpack type byte 0x{b:02x}")

    def map(self, n: int) -> dict:
        out = {}
        for _ in range(n):
            key = self.value()
            out[key.decode("utf8") if isinstance(key, bytes) else str(key)] = self.value()
        return out

    def ext(self, length: int) -> Any:
        code = self.unpack(">b")
        start = self.f.tell()
        if code in (_EXT_NDARRAY, _EXT_NPSCALAR):
            ref = self.ndarray(start + length)
        elif code == _EXT_COMPLEX:
            ref = None
        else:
            raise ValueError(f"unknown msgpack extension type {code}")
        self.f.seek(start + length)
        return ref

    def ndarray(self, end: int) -> _ArrayRef:
        header = self.take(1)[0]
        if header != 0x93:
            raise ValueError("an array extension that is not (shape, dtype, bytes)")
        shape = tuple(int(d) for d in self.value())
        name = self.value()
        dtype = _dtype_from_name(name.decode() if isinstance(name, bytes) else name)
        b = self.take(1)[0]
        nbytes = self.unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[b])
        offset = self.f.tell()
        if offset + nbytes > min(end, self.size) or nbytes != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ValueError(f"array data of {nbytes} bytes at offset {offset} does not fit the file")
        return _ArrayRef(shape, dtype, offset, nbytes)


def _dtype_from_name(name: str) -> np.dtype:
    if name == "bfloat16":
        return numpy_dtype("BF16")
    return np.dtype(name)


def _flatten_refs(tree: dict, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, _ArrayRef | _ChunkedRef]]:
    for key, value in tree.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value.get(_CHUNKED):
            chunks = value["chunks"]
            shape = tuple(int(value["shape"][str(i)]) for i in range(len(value["shape"])))
            yield "/".join(path), _ChunkedRef(shape, [chunks[str(i)] for i in range(len(chunks))])
        elif isinstance(value, dict):
            yield from _flatten_refs(value, path)
        elif isinstance(value, _ArrayRef):
            yield "/".join(path), value


class MsgpackFile(CheckpointReader):
    """A transformers Flax `flax_model.msgpack` (or shard), memory-mapped; names are '/'-joined paths."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        size = os.path.getsize(self.path)
        try:
            with open(self.path, "rb") as f:
                tree = _MsgpackParser(f, size).value()
            if not isinstance(tree, dict):
                raise ValueError("the top level is not a map of parameters")
            self._refs = dict(_flatten_refs(tree))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, struct.error) as err:
            raise CheckpointError(f"{self.path} is not a valid Flax msgpack checkpoint ({err}).") from err
        self._map = np.memmap(self.path, dtype=np.uint8, mode="c") if size else None
        self.metadata = {"format": "flax"}

    def _view(self, ref: _ArrayRef) -> np.ndarray:
        if ref.nbytes == 0:
            return np.zeros(ref.shape, dtype=ref.dtype)
        raw = self._map[ref.offset : ref.offset + ref.nbytes]
        if ref.offset % ref.dtype.alignment:
            raw = raw.copy()
        return raw.view(ref.dtype).reshape(ref.shape)

    def __getitem__(self, name: str) -> np.ndarray:
        ref = self._refs[name]
        if isinstance(ref, _ChunkedRef):
            return np.concatenate([self._view(c).reshape(-1) for c in ref.chunks]).reshape(ref.shape)
        return self._view(ref)

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def dtype(self, name: str) -> str:
        return _st_dtype(self._refs[name].dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._refs[name].shape)

    def release(self, name: str) -> None:
        """Drop the mapped pages of a tensor already consumed (see SafetensorsFile.release)."""
        ref = self._refs[name]
        for chunk in ref.chunks if isinstance(ref, _ChunkedRef) else [ref]:
            if self._map is not None:
                release_pages(self._map, chunk.offset, chunk.offset + chunk.nbytes)

    def close(self) -> None:
        self._map = None


def open_legacy(fmt: str, path: str) -> CheckpointReader:
    """The reader of one legacy TF (`.h5`) or Flax (`.msgpack`) file."""
    if fmt == "tf":
        return H5File(path)
    if fmt == "flax":
        return MsgpackFile(path)
    raise CheckpointError(f"{path}: unknown checkpoint format {fmt!r}; expected 'tf' or 'flax'.")


# --------------------------------------------------------------------------------------
# Native (transformers TF / Flax) names -> canonical names and layouts
# --------------------------------------------------------------------------------------
def tf_canonical_name(tf_name: str, ndim: int) -> tuple[str, str]:
    """transformers' `convert_tf_weight_name_to_pt_weight_name` for a name without the model scope.

    'mlm___cls/predictions/bias:0' -> ('cls.predictions.bias', 'identity');
    'bert/encoder/layer_._0/output/dense/kernel:0' -> ('bert.encoder.layer.0.output.dense.weight', 'linear').
    """
    name = "scope/" + tf_name.replace(":0", "")  # the level zero transformers drops
    name = re.sub(r"/[^/]*___([^/]*)/", r"/\1/", name)  # 'mlm___cls' -> 'cls'
    name = name.replace("_._", "/")  # 'layer_._0' -> 'layer/0'
    parts = re.sub(r"//+", "/", name).split("/")[1:]
    leaf = parts[-1]
    if leaf == "kernel":
        layout = {4: "conv2d", 3: "conv1d"}.get(ndim, "linear")
    elif leaf in ("pointwise_kernel", "depthwise_kernel"):
        layout = "linear"
    else:
        layout = "identity"
    parts[-1] = {"kernel": "weight", "embeddings": "weight", "gamma": "weight", "beta": "bias"}.get(leaf, leaf)
    parts[-1] = parts[-1].replace("_kernel", ".weight")
    return ".".join(parts), layout


def flax_canonical_name(path: Sequence[str], ndim: int) -> tuple[str, str]:
    """transformers' Flax -> PyTorch rule: `kernel` transposed to `weight`, `scale`/`embedding` -> `weight`."""
    return canonical_name(list(path), ndim)


class CanonicalView(CheckpointReader):
    """Another reader seen under canonical names, each tensor in canonical layout (a view)."""

    def __init__(self, reader: CheckpointReader, names: Mapping[str, tuple[str, str]]):
        self.reader = reader
        self._names = dict(names)  # canonical -> (native name, layout)
        self.metadata = {**reader.metadata, "format": "pt", "source_format": reader.metadata.get("format", "")}

    def native(self, name: str) -> tuple[str, str]:
        return self._names[name]

    def __getitem__(self, name: str) -> np.ndarray:
        native, layout = self._names[name]
        return to_canonical(self.reader[native], layout)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def dtype(self, name: str) -> str:
        return self.reader.dtype(self._names[name][0])

    def shape(self, name: str) -> tuple[int, ...]:
        native, layout = self._names[name]
        return canonical_shape(self.reader.shape(native), layout)

    def release(self, name: str) -> None:
        release = getattr(self.reader, "release", None)
        if release is not None:
            release(self._names[name][0])

    def close(self) -> None:
        self.reader.close()


def native_format(reader: CheckpointReader, fmt: str) -> str:
    """'tf', 'flax' or 'pt': the naming a reader's tensors are in."""
    if fmt in ("tf", "flax"):
        return fmt
    declared = (reader.metadata or {}).get("format") or "pt"
    return "pt" if declared == "mlx" else declared


def to_canonical_reader(reader: CheckpointReader, fmt: str) -> CheckpointReader:
    """`reader` (TF h5, Flax msgpack, or safetensors written from TF or Flax) under canonical names."""
    naming = native_format(reader, fmt)
    if naming == "pt":
        return reader
    if naming not in ("tf", "flax"):
        where = getattr(reader, "path", "the checkpoint")
        raise CheckpointError(f"{where}: unknown checkpoint format {naming!r} in its metadata; expected pt, tf or flax.")
    sep = "." if fmt == "safetensors" else "/"
    names: dict[str, tuple[str, str]] = {}
    for native in reader:
        ndim = len(reader.shape(native))
        if naming == "tf":
            canonical, layout = tf_canonical_name(native, ndim)
        else:
            canonical, layout = flax_canonical_name(native.split(sep), ndim)
        if canonical in names:
            raise ConversionError(f"{native!r} and {names[canonical][0]!r} both map to the canonical name {canonical!r}.")
        names[canonical] = (native, layout)
    return CanonicalView(reader, names)


# --------------------------------------------------------------------------------------
# Canonical names -> transformers 4.x TF / Flax names and layouts
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LegacyNaming:
    """What transformers' TF/Flax classes of one architecture name differently from the generic rules."""

    main_layer: str = ""  # TF always wraps the base model in a layer of this name
    tf_scopes: dict[str, str] = field(default_factory=dict)  # canonical module prefix -> TF scope
    tf_leaves: dict[str, str] = field(default_factory=dict)  # canonical module -> TF leaf of its weight
    aliases: dict[str, str] = field(default_factory=dict)  # canonical name -> the name it duplicates
    tied: tuple[str, ...] = ()  # absent in TF/Flax when tie_word_embeddings
    tf_shared: dict[str, str] = field(default_factory=dict)  # Keras layer -> TF name prefix it also lists


LEGACY_NAMING: dict[str, LegacyNaming] = {
    "bert": LegacyNaming(
        main_layer="bert",
        tf_scopes={"cls.predictions": "mlm___cls/predictions", "cls.seq_relationship": "nsp___cls/seq_relationship"},
        tf_leaves={"embeddings.word_embeddings": "weight"},
        aliases={"cls.predictions.decoder.bias": "cls.predictions.bias"},
        tied=("cls.predictions.decoder.weight",),
        tf_shared={"mlm___cls": "bert/embeddings/"},  # the LM head holds the embeddings layer
    ),
    "roberta": LegacyNaming(
        main_layer="roberta",
        tf_leaves={"embeddings.word_embeddings": "weight"},
        aliases={"lm_head.decoder.bias": "lm_head.bias"},
        tied=("lm_head.decoder.weight",),
        tf_shared={"lm_head": "roberta/embeddings/"},
    ),
}

# Module kinds: how a canonical weight is named and laid out natively.
LINEAR, EMBEDDING, LAYERNORM, OTHER = "linear", "embedding", "layernorm", "other"
_NORM_NAME = re.compile(r"(^|_)(layer_?norm|ln(_\w+)?|norm\d*)$", re.IGNORECASE)


def guess_kind(canonical: str, ndim: int) -> str:
    """A module kind from the name alone, for weights the architecture does not declare."""
    *modules, leaf = canonical.split(".")
    module = modules[-1] if modules else ""
    if leaf not in ("weight", "bias"):
        return OTHER
    if _NORM_NAME.search(module) and ndim == 1:
        return LAYERNORM
    if leaf == "bias":
        return OTHER
    if ndim == 2 and ("embed" in module or module in ("wte", "wpe", "shared")):
        return EMBEDDING
    return {2: LINEAR, 3: "conv1d", 4: "conv2d", 5: "conv3d"}.get(ndim, OTHER)


def _module_path(modules: list[str], numbered: str) -> list[str]:
    """TF names a list's items 'layer_._0'; Flax keeps '0' as a level of its own."""
    out: list[str] = []
    for part in modules:
        if part.isdigit() and out and numbered == "tf":
            out[-1] = f"{out[-1]}_._{part}"
        else:
            out.append(part)
    return out


def native_name(canonical: str, kind: str, fmt: str, naming: LegacyNaming | None = None) -> tuple[str, str]:
    """(transformers 4.x TF or Flax name, layout) of a canonical weight.

    TF names come without the model scope, as `H5File` lists them ('bert/pooler/dense/kernel:0');
    Flax names are the params paths joined with '/' ('bert/pooler/dense/kernel').
    """
    naming = naming or LegacyNaming()
    *modules, leaf = canonical.split(".")
    module = ".".join(modules)
    layout = "identity"
    if kind in (LINEAR, "conv1d", "conv2d", "conv3d") and leaf == "weight":
        leaf, layout = "kernel", kind
    elif kind == EMBEDDING and leaf == "weight":
        leaf = "embedding" if fmt == "flax" else naming.tf_leaves.get(_unprefixed(module, naming), "embeddings")
    elif kind == LAYERNORM:
        leaf = {"weight": "scale" if fmt == "flax" else "gamma", "bias": "bias" if fmt == "flax" else "beta"}.get(leaf, leaf)
    if fmt == "flax":
        return "/".join([*_module_path(modules, "flax"), leaf]), layout
    for prefix, scope in naming.tf_scopes.items():
        if module == prefix or module.startswith(prefix + "."):
            modules = [scope, *module[len(prefix) + 1 :].split(".")] if module != prefix else [scope]
            break
    return "/".join([*(m for m in _module_path(modules, "tf") if m), leaf]) + ":0", layout


def _unprefixed(module: str, naming: LegacyNaming) -> str:
    prefix = naming.main_layer + "."
    return module[len(prefix) :] if naming.main_layer and module.startswith(prefix) else module


def keras_scope(class_name: str) -> str:
    """Keras' default layer name for a class: 'TFBertForMaskedLM' -> 'tf_bert_for_masked_lm'."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()


# --------------------------------------------------------------------------------------
# Streaming writers: told every (name, shape, dtype) first, then given one tensor at a time
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str  # safetensors dtype code: F32, F16, BF16, I64, ...

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * numpy_dtype(self.dtype).itemsize


class TorchBinWriter:
    """`pytorch_model.bin` exactly as `torch.save(state_dict)` writes it, one storage at a time.

    The pickle (data.pkl) is written first from the shapes alone; each tensor's bytes then go
    to their own record, so the state dict is never built. It loads with `weights_only=True`.
    """

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(self, path: str, specs: Sequence[TensorSpec], top_scope: str = ""):
        import torch

        self._writer_ctx = torch.serialization._open_zipfile_writer(path)
        self._zip = self._writer_ctx.__enter__()
        self._keys = {spec.name: str(i) for i, spec in enumerate(specs)}
        data = _torch_pickle(specs, self._keys)
        self._zip.write_record("data.pkl", data, len(data))
        self._zip.write_record(".format_version", "1", 1)
        alignment = str(torch.serialization._get_storage_alignment())
        self._zip.write_record(".storage_alignment", alignment, len(alignment))
        self._zip.write_record("byteorder", "little", len("little"))

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        import torch

        raw = torch.from_numpy(contiguous(array).reshape(-1).view(np.uint8))  # shares the memory
        self._zip.write_record(f"data/{self._keys[spec.name]}", raw.untyped_storage(), raw.numel())

    def close(self) -> None:
        self._writer_ctx.__exit__(None, None, None)


_TORCH_STORAGE = {"F32": "FloatStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage", "F64": "DoubleStorage",
                  "I64": "LongStorage", "I32": "IntStorage", "I16": "ShortStorage", "I8": "CharStorage",
                  "U8": "ByteStorage", "BOOL": "BoolStorage"}


class _StorageRef:
    def __init__(self, key: str, storage_type: type, numel: int):
        self.key, self.storage_type, self.numel = key, storage_type, numel


class _TensorRef:
    def __init__(self, storage: _StorageRef, shape: tuple[int, ...]):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        import torch

        strides = tuple(int(np.prod(self.shape[i + 1 :], dtype=np.int64)) for i in range(len(self.shape)))
        return torch._utils._rebuild_tensor_v2, (self.storage, 0, self.shape, strides, False, OrderedDict())


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _StorageRef):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def _torch_pickle(specs: Sequence[TensorSpec], keys: Mapping[str, str]) -> bytes:
    import torch

    state = {}
    for spec in specs:
        if spec.dtype not in _TORCH_STORAGE:
            raise ConversionError(f"{spec.name}: dtype {spec.dtype} cannot be stored in pytorch_model.bin.")
        numel = int(np.prod(spec.shape, dtype=np.int64))
        storage = _StorageRef(keys[spec.name], getattr(torch, _TORCH_STORAGE[spec.dtype]), numel)
        state[spec.name] = _TensorRef(storage, tuple(spec.shape))
    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


class H5Writer:
    """`tf_model.h5` as transformers 4.x TF models save it (Keras 2 `save_weights`), or one of its shards.

    Spec names are TF names without the model scope ('bert/pooler/dense/kernel:0'). A layer that
    holds another layer's weights (BERT's LM head holds the embeddings) lists and stores them
    again, after its own, as Keras does: `shared` maps such a layer to the name prefix it holds.
    """

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(self, path: str, specs: Sequence[TensorSpec], top_scope: str = "tf_model", sharded: bool = False,
                 shared: Mapping[str, str] | None = None):
        h5py = _h5py()
        self._file = h5py.File(path, "w")
        self._where: dict[str, list[str]] = {}
        if sharded:  # transformers' own shard layout: datasets at the names, listed in layer_names
            save_h5_attribute(self._file, "layer_names", sorted(s.name for s in specs))
            self._where = {s.name: [s.name] for s in specs}
            return
        layers: dict[str, list[str]] = {}
        for spec in specs:
            layers.setdefault(spec.name.split("/")[0], []).append(spec.name)
        save_h5_attribute(self._file, "layer_names", list(layers))
        self._file.attrs["backend"] = b"tensorflow"
        self._file.attrs["keras_version"] = KERAS_VERSION.encode()
        for layer, prefix in (shared or {}).items():
            if layer in layers:
                layers[layer] += [s.name for s in specs if s.name.startswith(prefix) and s.name not in layers[layer]]
        for layer in sorted(layers):
            weights = [f"{top_scope}/{name}" for name in layers[layer]]
            save_h5_attribute(self._file.create_group(layer), "weight_names", weights)
            for name, full in zip(layers[layer], weights):
                self._where.setdefault(name, []).append(f"{layer}/{full}")
        save_h5_attribute(self._file.create_group("top_level_model_weights"), "weight_names", [])

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        if spec.dtype == "BF16":
            raise ConversionError("tf_model.h5 cannot hold bfloat16 weights; pass --dtype float32 or float16.")
        for where in self._where[spec.name]:
            self._file.create_dataset(where, data=contiguous(array))

    def close(self) -> None:
        self._file.close()


class MsgpackWriter:
    """`flax_model.msgpack` byte for byte as `flax.serialization.to_bytes(params)` writes it."""

    MAX_CHUNK_SIZE = 2**30  # flax splits larger arrays into chunks

    def __init__(self, path: str, specs: Sequence[TensorSpec], top_scope: str = ""):
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._tree = _tree(self.ordered(specs))
        self._pending = deque(self._events(self._tree))
        self._advance()

    @staticmethod
    def ordered(specs: Sequence[TensorSpec]) -> list[TensorSpec]:
        """The specs in the order the nested params dict lists them (its tree order)."""
        by_name = {s.name: s for s in specs}
        return [by_name[name] for name in _leaves(_tree(specs))]

    def _events(self, tree: dict) -> Iterator[bytes | TensorSpec]:
        yield _mp_map(len(tree))
        for key, value in tree.items():
            yield _mp_str(key)
            if isinstance(value, dict):
                yield from self._events(value)
            else:
                yield value

    def _advance(self) -> None:
        """Write every header byte up to the next tensor."""
        while self._pending and isinstance(self._pending[0], bytes):
            self._f.write(self._pending.popleft())

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        expected = self._pending.popleft()
        if expected.name != spec.name:
            raise ConversionError(f"msgpack tensors out of order: got {spec.name!r}, expected {expected.name!r}.")
        array = contiguous(array)
        if array.nbytes > self.MAX_CHUNK_SIZE:
            self._write_chunked(array)
        else:
            self._write_array(array)
        self._advance()

    def _write_array(self, array: np.ndarray) -> None:
        self._f.write(_mp_ndarray_header(array.shape, array.dtype, array.nbytes))
        self._f.write(memoryview(array.reshape(-1).view(np.uint8)))

    def _write_chunked(self, array: np.ndarray) -> None:
        size = max(1, int(self.MAX_CHUNK_SIZE / array.dtype.itemsize))
        flat = array.reshape(-1)
        chunks = [flat[i : i + size] for i in range(0, flat.size, size)]
        self._f.write(_mp_map(3) + _mp_str(_CHUNKED) + b"\xc3" + _mp_str("shape") + _mp_map(len(array.shape)))
        for i, dim in enumerate(array.shape):
            self._f.write(_mp_str(str(i)) + _mp_uint(dim))
        self._f.write(_mp_str("chunks") + _mp_map(len(chunks)))
        for i, chunk in enumerate(chunks):
            self._f.write(_mp_str(str(i)))
            self._write_array(chunk)

    def close(self) -> None:
        self._f.close()


def _tree(specs: Sequence[TensorSpec]) -> dict:
    """The nested params dict of '/'-joined names, keys sorted at every level as JAX pytrees keep them."""
    tree: dict = {}
    for spec in specs:
        *path, leaf = spec.name.split("/")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConversionError(f"{spec.name!r} nests under another tensor's name.")
        if leaf in node:
            raise ConversionError(f"{spec.name!r} is both a tensor and a group of tensors.")
        node[leaf] = spec
    return _sort_tree(tree)


def _sort_tree(tree: dict) -> dict:
    return {key: _sort_tree(value) if isinstance(value, dict) else value for key, value in sorted(tree.items())}


def _leaves(tree: dict) -> Iterator[str]:
    for value in tree.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value.name


def _mp_sized(n: int, small: int | None, codes: tuple[int, int, int], fix_limit: int) -> bytes:
    if small is not None and n < fix_limit:
        return bytes([small | n])
    for code, fmt, limit in zip(codes, (">B", ">H", ">I"), (2**8, 2**16, 2**32)):
        if code and n < limit:
            return bytes([code]) + struct.pack(fmt, n)
    raise ConversionError(f"msgpack cannot encode a length of {n}.")


def _mp_map(n: int) -> bytes:
    return _mp_sized(n, 0x80, (0, 0xDE, 0xDF), 16)


def _mp_array(n: int) -> bytes:
    return _mp_sized(n, 0x90, (0, 0xDC, 0xDD), 16)


def _mp_str(text: str) -> bytes:
    data = text.encode("utf8")
    return _mp_sized(len(data), 0xA0, (0xD9, 0xDA, 0xDB), 32) + data


def _mp_bin_header(n: int) -> bytes:
    return _mp_sized(n, None, (0xC4, 0xC5, 0xC6), 0)


def _mp_uint(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    for code, fmt, limit in ((0xCC, ">B", 2**8), (0xCD, ">H", 2**16), (0xCE, ">I", 2**32)):
        if n < limit:
            return bytes([code]) + struct.pack(fmt, n)
    return b"\xcf" + struct.pack(">Q", n)


def _mp_ndarray_header(shape: tuple[int, ...], dtype: np.dtype, nbytes: int) -> bytes:
    """Everything of flax's ndarray extension before the raw bytes: ext header, (shape, dtype, bin header)."""
    inner = _mp_array(3) + _mp_array(len(shape)) + b"".join(_mp_uint(d) for d in shape)
    inner += _mp_str(dtype.name) + _mp_bin_header(nbytes)
    length = len(inner) + nbytes
    fixext = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if length in fixext:
        head = bytes([fixext[length]])
    else:
        head = _mp_sized(length, None, (0xC7, 0xC8, 0xC9), 0)
    return head + struct.pack(">b", _EXT_NDARRAY) + inner


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _st_dtype(dtype: np.dtype) -> str:
    try:
        return st_dtype_of(np.empty(0, dtype=dtype))
    except CheckpointError:
        raise CheckpointError(f"Unsupported dtype {dtype} in a legacy checkpoint.") from None


def contiguous(array: np.ndarray) -> np.ndarray:
    """A C-contiguous array (copied only when needed); 0-d arrays stay 0-d."""
    return array if array.flags.c_contiguous else np.ascontiguousarray(array).reshape(array.shape)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


__all__ = [
    "CanonicalView", "H5File", "H5Writer", "LEGACY_NAMING", "LegacyNaming", "MsgpackFile", "MsgpackWriter",
    "TensorSpec", "TorchBinWriter", "from_canonical", "guess_kind", "keras_scope", "native_name", "open_legacy",
    "tf_canonical_name", "to_canonical_reader",
]
