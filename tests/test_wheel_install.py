"""The built wheel, installed with ONE framework extra into a fresh venv, loads, runs and serves a model.

`make test`'s editable install sees the whole source tree and every framework, so it hides what a
user of `pip install 'rosetta-models[flax]'` meets: a module the wheel lacks, an import that only
works because another framework imported it first, a raw `ModuleNotFoundError` for a framework that
is not installed. Here each of torch, tf and flax gets its own venv with only its extra.

Keeping it fast: one venv per extra under build/wheel-envs/, keyed on pyproject.toml, constraints.txt
and the Python version. While the key is unchanged the venv is reused and only the freshly built
wheel is reinstalled (--no-deps); a new key installs the dependencies once from pip's cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "build" / "wheel-envs"
DISTRIBUTION = "rosetta-models"
EXTRAS = ("torch", "tf", "flax")
PREFIX = {"torch": "", "tf": "TF", "flax": "Flax"}
TENSORS = {"torch": "pt", "tf": "tf", "flax": "jax"}
TEXT = "The capital of France is Paris."
ATOL = 2e-5

# Runs inside the fresh venv: argv = extra, checkpoint folder. Prints one JSON line.
PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np

    extra, folder = sys.argv[1], sys.argv[2]
    prefix = {"torch": "", "tf": "TF", "flax": "Flax"}
    import rosetta
    from rosetta import AutoTokenizer, pipeline

    model = getattr(rosetta, prefix[extra] + "BertForSequenceClassification").from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoding = tokenizer([sys.argv[3]], return_tensors={"torch": "pt", "tf": "tf", "flax": "jax"}[extra])
    logits = model(**encoding).logits
    logits = logits.detach().numpy() if hasattr(logits, "detach") else np.asarray(logits)
    answer = pipeline("text-classification", model=folder)([sys.argv[3]])
    missing = {}
    for other in prefix:
        if other == extra:
            continue
        try:
            getattr(rosetta, prefix[other] + "BertModel")
            missing[other] = "imported without error"
        except ImportError as err:
            missing[other] = str(err)
    print(json.dumps({"logits": logits.tolist(), "pipeline": answer, "missing": missing}))
    """
)


def _run(*args: str | os.PathLike, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([os.fspath(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def _env_key(extra: str) -> str:
    digest = hashlib.sha256(f"{extra} {sys.version_info[:3]}".encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time prepares a given venv (two test runs may share build/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _pip(*args: str | os.PathLike) -> None:
    _run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args)


def fresh_env(extra: str, wheel: Path) -> Path:
    """The venv for `extra` with `wheel` installed in it; returns its python."""
    env = ENVS / f"{extra}-{_env_key(extra)}"
    python = env / "bin" / "python"
    with _locked(ENVS / f"{extra}.lock"):
        if not (env / ".ready").exists():
            for stale in ENVS.glob(f"{extra}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            _run(sys._base_executable, "-m", "venv", "--without-pip", env)
            _pip("--python", python, "install", "-q", "-c", ROOT / "constraints.txt", f"{wheel}[{extra}]")
            (env / ".ready").touch()
        else:
            _pip("--python", python, "install", "-q", "--no-deps", "--force-reinstall", wheel)
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tree (an in-tree build/ could carry stale modules into it)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "rosetta", source / "rosetta", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    out = tmp_path_factory.mktemp("dist")
    _pip("wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, source)
    (built,) = out.glob("*.whl")
    assert built.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    return built


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A tiny random BERT classifier saved by torch in this venv, with its tokenizer and logits for TEXT."""
    pytest.importorskip("torch")
    import torch

    from rosetta import AutoTokenizer, BertConfig, BertForSequenceClassification
    from tests.tokenizer_files import bert_folder

    folder = bert_folder(tmp_path_factory.mktemp("checkpoint"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    encoding = AutoTokenizer.from_pretrained(folder)([TEXT], return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoding).logits.numpy()
    return folder, logits


@pytest.mark.parametrize("extra", EXTRAS)
def test_wheel_with_one_extra_loads_runs_and_serves(extra, wheel, checkpoint):
    folder, expected = checkpoint
    python = fresh_env(extra, wheel)
    probe = _run(
        python, "-c", PROBE, extra, folder, TEXT, cwd=folder.parent
    )  # not ROOT: no source on sys.path
    result = json.loads(probe.stdout.strip().splitlines()[-1])

    np.testing.assert_allclose(np.array(result["logits"]), expected, atol=ATOL)
    (answer,) = result["pipeline"]
    probabilities = np.exp(expected[0]) / np.exp(expected[0]).sum()
    assert answer["label"] == ["neg", "neu", "pos"][int(probabilities.argmax())]
    np.testing.assert_allclose(answer["score"], probabilities.max(), atol=1e-5)
    for other, message in result["missing"].items():
        assert f"pip install '{DISTRIBUTION}[{other}]'" in message, (
            f"{other} class in a {extra}-only venv: {message}"
        )


def test_fresh_env_has_only_its_framework(wheel):
    python = fresh_env("flax", wheel)
    code = "import importlib.util as u; print([m for m in ('torch', 'tensorflow', 'flax') if u.find_spec(m)])"
    assert _run(python, "-c", code).stdout.strip() == "['flax']"
