"""Generated files are valid Python, pass the repo's ruff config, and (torch, Flax) import and run."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rosetta.modular import generate, write

from .fake_bert import add_modular
from .test_generator import CAMEMBERT

REPO = Path(__file__).resolve().parents[2]


def _ruff() -> str | None:
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.is_file() else shutil.which("ruff")


def test_generated_files_compile(roberta: Path):
    for name, text in generate(roberta).items():
        compile(text, name, "exec")


def test_generated_files_pass_ruff_with_the_repo_config(roberta: Path):
    camembert = add_modular(roberta.parent.parent, "camembert", CAMEMBERT)
    written = [path for path, _ in write([roberta.parent.parent])]
    assert len(written) == 7 and {p.parent for p in written} == {roberta.parent, camembert.parent}
    result = subprocess.run(
        [_ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), *map(str, written)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def imported(roberta: Path, monkeypatch: pytest.MonkeyPatch):
    """Write the generated files and make the fake package importable; yields an import function."""
    write([roberta])
    package = roberta.parent.parent.parent.name
    monkeypatch.syspath_prepend(str(roberta.parent.parent.parent.parent))
    yield lambda module: importlib.import_module(f"{package}.models.roberta.{module}")
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


def test_generated_torch_model_imports_and_runs(imported):
    torch = pytest.importorskip("torch")
    config = imported("configuration_roberta").RobertaConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
    )
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (1, 0, 2)
    assert config.model_type == "roberta" and config.to_dict()["model_type"] == "roberta"
    modeling = imported("modeling_roberta")
    model = modeling.RobertaForSequenceClassification(config).eval()
    input_ids = torch.tensor([[0, 7, 8, 9, 2, 1, 1]])
    with torch.no_grad():
        logits = model(input_ids)
    assert logits.shape == (1, 3)
    assert not hasattr(model, "dropout")
    assert model.roberta.pooler is None
    positions = model.roberta.embeddings.create_position_ids(input_ids)
    assert positions.tolist() == [[2, 3, 4, 5, 6, 1, 1]]  # padding keeps padding_idx, the rest count from it
    assert model.roberta.embeddings.position_embeddings.padding_idx == 1
    assert isinstance(model, modeling.RobertaPreTrainedModel)
    assert modeling.RobertaPreTrainedModel.config_class is type(config)


def test_generated_flax_model_imports_and_runs(imported):
    jax = pytest.importorskip("jax")
    pytest.importorskip("flax")
    import jax.numpy as jnp

    config = imported("configuration_roberta").RobertaConfig(
        vocab_size=40, hidden_size=8, max_position_embeddings=16
    )
    module = imported("modeling_flax_roberta").FlaxRobertaModule(config)
    input_ids = jnp.array([[0, 7, 8, 2, 1]])
    params = module.init(jax.random.PRNGKey(0), input_ids)
    hidden_states, pooled = module.apply(params, input_ids)
    assert hidden_states.shape == (1, 5, 8) and pooled.shape == (1, 8)
    assert set(params["params"]) == {"embeddings", "pooler"}
