"""`rosetta env`: versions of rosetta, Python and each framework, with its devices."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

from ..core.frameworks import FRAMEWORKS

# Distributions that install a module under another name.
_DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu")}
_LIBRARIES = ("transformers", "huggingface_hub", "tokenizers")


def _version(module: str) -> str | None:
    for dist in _DISTRIBUTIONS.get(module, (module,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _devices(framework: str) -> str:
    try:
        if framework == "torch":
            import torch

            return ", ".join(
                ["cpu", *(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))]
            )
        if framework == "tf":
            import tensorflow as tf

            return ", ".join(d.name for d in tf.config.list_logical_devices())
        import jax

        return ", ".join(str(d) for d in jax.devices())
    except Exception as err:  # noqa: BLE001 - a broken framework is reported, not fatal
        return f"unavailable ({type(err).__name__}: {err})"


def collect() -> dict[str, str]:
    from .. import __version__

    info = {"rosetta": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for key, framework in FRAMEWORKS.items():
        versions = {module: _version(module) for module in framework.modules}
        info.update({module: version or "not installed" for module, version in versions.items()})
        if all(versions.values()):
            info[f"{framework.display_name} devices"] = _devices(key)
    info.update({library: _version(library) or "not installed" for library in _LIBRARIES})
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("env", help="versions of rosetta, Python, each framework and its devices")
    parser.set_defaults(func=run)
