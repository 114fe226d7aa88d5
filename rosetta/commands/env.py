"""`rosetta env`: versions of rosetta, Python and each framework, with its devices."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _devices(framework: str) -> str:
    try:
        if framework == "torch":
            import torch

            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            return ", ".join(["cpu", *gpus])
        if framework == "tensorflow":
            import tensorflow as tf

            return ", ".join(d.name for d in tf.config.list_logical_devices())
        if framework == "jax":
            import jax

            return ", ".join(str(d) for d in jax.devices())
    except Exception as err:  # noqa: BLE001 - a broken framework is reported, not fatal
        return f"unavailable ({type(err).__name__}: {err})"
    return ""


def collect() -> dict[str, str]:
    from .. import __version__

    info = {"rosetta": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for label, dists in {
        "torch": ("torch",),
        "tensorflow": ("tensorflow", "tensorflow-cpu"),
        "keras": ("keras",),
        "jax": ("jax",),
        "flax": ("flax",),
        "transformers": ("transformers",),
        "huggingface_hub": ("huggingface_hub",),
        "tokenizers": ("tokenizers",),
    }.items():
        version = next((v for v in map(_version, dists) if v), None)
        info[label] = version or "not installed"
        if version and label in ("torch", "tensorflow", "jax"):
            info[f"{label} devices"] = _devices(label)
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("env", help="versions of rosetta, Python, each framework and its devices")
    parser.set_defaults(func=run)
