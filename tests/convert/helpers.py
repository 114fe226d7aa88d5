"""Shared by the convert tests: the transformers 4.46 fixtures, a CLI runner, format-independent readers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "hf446"
TOP_SCOPE = "tf_bert_for_pre_training"


def reference(name: str = "pt") -> dict[str, np.ndarray]:
    """The canonical weights every hf446 fixture holds (read with the safetensors library)."""
    from safetensors.numpy import load_file

    return load_file(str(FIXTURES / name / "model.safetensors"))


def copy_fixture(name: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / name, dest)
    return dest


def cli(*args: str) -> int:
    from rosetta.cli import main

    return main([str(a) for a in args])


def convert(src: Path, out: Path, *args: str) -> Path:
    rc = cli("convert", src, out, "--quiet", *args)
    assert rc == 0
    return out


def weight_files(folder: Path) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p not in ("config.json",))


def load_safetensors_folder(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    out: dict[str, np.ndarray] = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            out.update(load_file(str(folder / name)))
    return out


def load_torch_folder(folder: Path) -> dict[str, np.ndarray]:
    import torch

    out: dict[str, np.ndarray] = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".bin"):
            for key, tensor in torch.load(folder / name, map_location="cpu", weights_only=True).items():
                out[key] = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
    return out


def h5_dump(path: Path) -> dict:
    """Everything of an h5 file: root attrs, each group's attrs (as sets), each dataset's shape, dtype, bytes."""
    import h5py

    out: dict = {}
    with h5py.File(path, "r") as f:
        out["/"] = {k: sorted(map(str, v)) if k == "layer_names" else str(v) for k, v in f.attrs.items()}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (obj.shape, str(obj.dtype), obj[()].tobytes())
            else:
                out[name + "/@"] = {
                    k: sorted(map(str, v)) if v.shape else str(v) for k, v in obj.attrs.items()
                }

        f.visititems(visit)
    return out


def assert_same_tensors(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Same names, dtypes, shapes and bits."""
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        got = actual[name]
        assert got.dtype == value.dtype and got.shape == value.shape, (
            name,
            got.dtype,
            got.shape,
            value.dtype,
            value.shape,
        )
        assert got.tobytes() == value.tobytes(), name
