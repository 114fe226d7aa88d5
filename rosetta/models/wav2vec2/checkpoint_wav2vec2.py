"""The positional convolution's weight-norm names, old and new, for every backend (numpy only).

transformers 5 (torch's `nn.utils.parametrizations.weight_norm`) writes the positional convolution's
weight as `...pos_conv_embed.conv.parametrizations.weight.original0` (the norm g, [1, 1, kernel]) and
`...original1` (the direction v, [out, in / groups, kernel]): these are the canonical names, the ones
every rosetta backend holds and saves. Older checkpoints (torch's `nn.utils.weight_norm`) name the same
two tensors `...conv.weight_g` and `...conv.weight_v`; `LegacyWeightNormReader` shows such a checkpoint
under the canonical names, so it loads in every backend with no missing or unexpected keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ...convert.formats.base import CheckpointReader

LEGACY_RENAMES = {
    "pos_conv_embed.conv.weight_g": "pos_conv_embed.conv.parametrizations.weight.original0",
    "pos_conv_embed.conv.weight_v": "pos_conv_embed.conv.parametrizations.weight.original1",
}


def canonical_key(name: str) -> str:
    """A checkpoint key under its canonical name (old weight-norm names renamed, others as they are)."""
    for old, new in LEGACY_RENAMES.items():
        if name.endswith(old):
            return name[: -len(old)] + new
    return name


class LegacyWeightNormReader(CheckpointReader):
    """A checkpoint reader with `weight_g` / `weight_v` shown under their canonical names (a view, no copy)."""

    def __init__(self, reader: CheckpointReader):
        self._reader = reader
        self._original = {canonical_key(name): name for name in reader}
        self.metadata = getattr(reader, "metadata", {})
        self.path = getattr(reader, "path", "the checkpoint")

    @classmethod
    def wrap(cls, reader: CheckpointReader) -> CheckpointReader:
        """`reader` itself when it holds no old names, else the renaming view over it."""
        if any(canonical_key(name) != name for name in reader):
            return cls(reader)
        return reader

    def __getitem__(self, name: str) -> np.ndarray:
        return self._reader[self._original[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._original)

    def __len__(self) -> int:
        return len(self._original)

    def dtype(self, name: str) -> str:
        return self._reader.dtype(self._original[name])

    def shape(self, name: str) -> tuple[int, ...]:
        return self._reader.shape(self._original[name])

    def release(self, name: str) -> None:
        self._reader.release(self._original[name])

    def close(self) -> None:
        self._reader.close()
