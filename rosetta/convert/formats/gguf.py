"""GGUF checkpoints (the llama.cpp format): read-only, dequantised to float32, under canonical names.

What a file's architecture names differently is declared, as data, by the model folder that loads it
(`GGUF` in rosetta/models/<arch>/__init__.py, found through the registry by the file's
`general.architecture`): metadata keys -> config fields, top-level and per-block tensor names ->
canonical names, and which projections the file stores with rows permuted for its rotary layout
(put back per head, as transformers' `reverse_permute` does). Every tensor type
`gguf.quants.dequantize` supports is read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, the K
quants, ...); the file is memory-mapped and a tensor is dequantised when it is read. The tokenizer
files are `gguf_tokenizer_files` (rosetta.core.gguf_tokenizer).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...core import registry
from ...core.errors import CheckpointError, ConversionError, InputError
from ...core.gguf_tokenizer import gguf_module, gguf_tokenizer_files, open_gguf_reader, read_metadata
from .base import CheckpointReader

GGUF_SUFFIX = ".gguf"
TOKEN_IDS = {
    "bos_token_id": "tokenizer.ggml.bos_token_id",
    "eos_token_id": "tokenizer.ggml.eos_token_id",
    "pad_token_id": "tokenizer.ggml.padding_token_id",
}
_BLOCK = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
_TOP = re.compile(r"(\w+)\.(weight|bias)")


def naming_for(meta: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """(model_type, GGUF naming) of the architecture a file's metadata names; refused if none declares it."""
    architecture = meta.get("general.architecture")
    found = registry.gguf_naming(str(architecture))
    if found is None:
        raise ConversionError(
            f"{path}: GGUF architecture {architecture!r} is not supported; rosetta reads "
            f"{', '.join(registry.gguf_architectures())}."
        )
    return found


def canonical_tensor_name(gguf_name: str, naming: dict[str, Any]) -> str | None:
    """The canonical name of a GGUF tensor (None for one that transformers drops too)."""
    match = _BLOCK.fullmatch(gguf_name)
    if match and match.group(2) in naming["block_names"]:
        return f"{naming['block_prefix']}.{match.group(1)}.{naming['block_names'][match.group(2)]}.{match.group(3)}"
    match = _TOP.fullmatch(gguf_name)
    if match and match.group(1) in naming["top_names"]:
        return f"{naming['top_names'][match.group(1)]}.{match.group(2)}"
    if match and match.group(1) in naming["ignored"]:
        return None
    raise ConversionError(
        f"The GGUF tensor {gguf_name!r} has no {naming['architecture']} counterpart rosetta knows; expected "
        f"{', '.join(naming['top_names'])} or blk.N.{{{', '.join(naming['block_names'])}}}."
    )


def reverse_permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Undo the rotary row permutation of a projection (weight or bias), per head."""
    dim = weights.shape[0] // n_head // 2
    return weights.reshape(n_head, dim, 2, *weights.shape[1:]).swapaxes(2, 1).reshape(weights.shape)


def config_from_metadata(meta: dict[str, Any], tensor_names: list[str], path: str) -> dict[str, Any]:
    """The config dict a GGUF's metadata describes (the architecture's own config field names)."""
    model_type, naming = naming_for(meta, path)
    arch = naming["architecture"]
    config: dict[str, Any] = {"architectures": list(naming["architectures"]), "model_type": model_type}
    for key, field in naming["config"].items():
        if f"{arch}.{key}" in meta:
            config[field] = meta[f"{arch}.{key}"]
    if "vocab_size" not in config and "tokenizer.ggml.tokens" in meta:
        config["vocab_size"] = len(meta["tokenizer.ggml.tokens"])
    scaling = meta.get(f"{arch}.rope.scaling.type")
    if scaling not in (None, "none"):
        config["rope_scaling"] = {
            "rope_type": scaling,
            "factor": meta.get(f"{arch}.rope.scaling.factor", 1.0),
        }
        original = meta.get(f"{arch}.rope.scaling.original_context_length")
        if original is not None:
            config["rope_scaling"]["original_max_position_embeddings"] = original
    config["tie_word_embeddings"] = naming["untied_output"] not in tensor_names
    config.update({field: meta[key] for field, key in TOKEN_IDS.items() if key in meta})
    config["torch_dtype"] = "float32"
    return config


class GGUFFile(CheckpointReader):
    """A GGUF file under canonical names; each tensor dequantised to float32 when read."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._reader = open_gguf_reader(self.path)
        self._meta = read_metadata(self._reader)
        tensors = {t.name: t for t in self._reader.tensors}
        self.config = config_from_metadata(self._meta, list(tensors), self.path)
        _, self._naming = naming_for(self._meta, self.path)
        self._tensors = {}
        for gguf_name, tensor in tensors.items():
            name = canonical_tensor_name(gguf_name, self._naming)
            if name is not None:
                self._tensors[name] = tensor
        self.metadata = {"format": "pt", "source_format": "gguf"}

    def __getitem__(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        gguf = gguf_module()
        tensor_type = gguf.GGMLQuantizationType(tensor.tensor_type)
        try:
            array = gguf.quants.dequantize(tensor.data, tensor_type)
        except NotImplementedError as err:
            raise CheckpointError(
                f"{self.path}: tensor {tensor.name!r} is stored as {tensor_type.name}, which the installed "
                f"gguf package cannot dequantise ({err}); upgrade it: pip install -U gguf."
            ) from err
        array = np.asarray(array, dtype=np.float32).reshape(self.shape(name))
        for module, heads_field in self._naming["permuted"].items():
            if f".{module}." in name:
                heads = self.config.get(heads_field) or self.config["num_attention_heads"]
                array = reverse_permute(array, heads)
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def dtype(self, name: str) -> str:
        return "F32"

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(reversed(self._tensors[name].shape))

    def close(self) -> None:
        self._tensors = {}
        self._reader = None


def open_gguf(path: str | os.PathLike) -> tuple[dict[str, Any], CheckpointReader]:
    """(config dict, reader under canonical names of float32 arrays) of a GGUF file."""
    reader = GGUFFile(path)
    return dict(reader.config), reader


def is_gguf(path: str | os.PathLike) -> bool:
    return os.fspath(path).lower().endswith(GGUF_SUFFIX)


def find_gguf(src: str | os.PathLike, gguf_file: str | None = None) -> str | None:
    """The GGUF file a source names: itself, `gguf_file` in a folder, or a folder's only .gguf (None: not GGUF)."""
    src = os.fspath(src)
    if os.path.isfile(src):
        return src if is_gguf(src) else None
    if not os.path.isdir(src):
        return None
    if gguf_file is not None:
        path = os.path.join(src, gguf_file)
        if not os.path.isfile(path):
            raise InputError(f"{src} has no file {gguf_file!r}; --gguf-file names a .gguf file inside SRC.")
        return path
    found = sorted(name for name in os.listdir(src) if is_gguf(name))
    if len(found) > 1:
        raise InputError(
            f"{src} holds several GGUF files ({', '.join(found)}); pick one with --gguf-file NAME."
        )
    return os.path.join(src, found[0]) if found else None


__all__ = [
    "GGUFFile", "canonical_tensor_name", "config_from_metadata", "find_gguf", "gguf_tokenizer_files",
    "is_gguf", "open_gguf", "reverse_permute",
]  # fmt: skip
