"""`tf_model.h5`: Hugging Face's TF weights file (Keras 2 `save_weights`), read and written.

    root attr `layer_names`, one group per layer with attr `weight_names`
    ("tf_my_model_for_masked_lm/my_model/encoder/layer_._0/attention/self/query/kernel:0"), a dataset
    at each of those names. Shards (`tf_model-00001-of-0000N.h5`) hold datasets at the names
    without the model's scope, listed in the root attr `layer_names`.

The reader lists tensors under their names without the model's scope (as transformers compares
them) and reads one dataset at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...core.errors import CheckpointError, ConversionError
from .base import CheckpointReader, TensorSpec, contiguous, first_line, st_dtype_of

WEIGHTS_NAME = "tf_model.h5"
INDEX_NAME = "tf_model.h5.index.json"
HDF5_OBJECT_HEADER_LIMIT = 64512  # Keras splits attributes larger than this into name0, name1, ...
KERAS_VERSION = "2.21.0"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - h5py comes with TensorFlow
        raise CheckpointError("Reading or writing tf_model.h5 needs h5py: `pip install h5py`.") from err
    return h5py


def load_h5_attribute(group: Any, name: str) -> list[str]:
    """A Keras list attribute, joined from its chunks `name0`, `name1`, ... when it was split."""
    if name in group.attrs:
        values = list(np.atleast_1d(group.attrs[name]))
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(np.atleast_1d(group.attrs[f"{name}{chunk}"]))
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
        group.attrs[name] = (
            data if data else array
        )  # a list is stored as variable-length strings, as Keras does
        return
    for index, part in enumerate(np.array_split(array, chunks)):
        group.attrs[f"{name}{index}"] = part


def strip_model_scope(weight_name: str) -> str:
    """'tf_my_model/my_model/pooler/dense/kernel:0' -> 'my_model/pooler/dense/kernel:0', as transformers loads it."""
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
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise CheckpointError(f"{self.path} is not a valid TF weights file ({first_line(err)}).") from err
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
                if not hasattr(self._file.get(f"{layer}/{weight}"), "shape"):
                    raise KeyError(
                        f"layer {layer!r} lists weight {weight!r}, which is not a dataset in the file"
                    )
                paths[strip_model_scope(weight)] = f"{layer}/{weight}"
        return paths

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return np.asarray(self._file[self._paths[name]][()])
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{self.path}: could not read {name!r} ({first_line(err)}).") from err

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def dtype(self, name: str) -> str:
        dtype = self._file[self._paths[name]].dtype
        try:
            return st_dtype_of(dtype)
        except CheckpointError:
            raise CheckpointError(
                f"{self.path}: tensor {name!r} has dtype {dtype}, which rosetta cannot read."
            ) from None

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._file[self._paths[name]].shape)

    def close(self) -> None:
        self._file.close()


class H5Writer:
    """`tf_model.h5` as transformers 4.x TF models save it (Keras 2 `save_weights`), or one of its shards.

    Spec names are TF names without the model scope ('my_model/pooler/dense/kernel:0'). A layer that
    holds another layer's weights (an LM head that holds the embeddings) lists and stores them
    again, after its own, as Keras does: `shared` maps such a layer to the name prefix it holds.
    """

    ordered = staticmethod(lambda specs: list(specs))

    def __init__(
        self,
        path: str,
        specs: Sequence[TensorSpec],
        *,
        top_scope: str = "tf_model",
        sharded: bool = False,
        shared: Mapping[str, str] | None = None,
        **_: Any,
    ):
        self._file = _h5py().File(path, "x")
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
                layers[layer] += [
                    s.name for s in specs if s.name.startswith(prefix) and s.name not in layers[layer]
                ]
        for layer in sorted(layers):
            weights = [f"{top_scope}/{name}" for name in layers[layer]]
            save_h5_attribute(self._file.create_group(layer), "weight_names", weights)
            for name, full in zip(layers[layer], weights):
                self._where.setdefault(name, []).append(f"{layer}/{full}")
        save_h5_attribute(self._file.create_group("top_level_model_weights"), "weight_names", [])

    def write(self, spec: TensorSpec, array: np.ndarray) -> None:
        if spec.dtype == "BF16":
            raise ConversionError(
                "tf_model.h5 cannot hold bfloat16 weights; pass --dtype float32 or float16."
            )
        for where in self._where[spec.name]:
            self._file.create_dataset(where, data=contiguous(array))

    def close(self) -> None:
        self._file.close()
