"""`rosetta convert` with only Flax (or only TF) importable: shapes still come from the architecture."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .helpers import FIXTURES, load_safetensors_folder, reference

SCRIPT = textwrap.dedent(
    """
    import sys
    for blocked in sys.argv[3].split(","):
        sys.modules[blocked] = None  # `import torch` now fails, as if it were not installed
    from rosetta.cli import main
    from rosetta.convert.stream import build_architecture, load_config
    from rosetta.core.hub import HubOptions
    config, path = load_config(sys.argv[1], HubOptions())
    arch = build_architecture(config, path)
    print("ARCH", arch.class_name, len(arch.shapes))
    raise SystemExit(main(["convert", sys.argv[1], sys.argv[2], "--quiet", "--to", "safetensors"]))
    """
)


@pytest.mark.parametrize(
    "blocked, needs, arch",
    [
        ("torch,tensorflow,keras", "flax", "FlaxBertForPreTraining"),
        ("torch,jax,flax", "tensorflow", "TFBertForPreTraining"),
    ],
    ids=["flax-only", "tf-only"],
)
def test_convert_works_without_torch(tmp_path, blocked, needs, arch):
    pytest.importorskip(needs)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(FIXTURES / "tf"), str(out), blocked],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert f"ARCH {arch}" in run.stdout and "shapes not checked" not in run.stderr
    loaded = load_safetensors_folder(out)
    for name, value in reference().items():
        if name in loaded:
            assert (loaded[name] == value).all(), name
