"""Flax models sharded on a `jax.sharding.Mesh`: `from_pretrained(mesh=...)`, forward, save, a training step.

XLA's device count is fixed when jax is imported, so the checks on 8 host devices run in a subprocess
(this file run as a script, `XLA_FLAGS=--xla_force_host_platform_device_count=8`), which prints one
JSON report that the tests below read. It loads a tiny BERT classifier unsharded and on meshes (8,1),
(2,4) and (1,8), and compares outputs, shardings, saved bytes and one SGD step; and a tiny Llama's greedy
`generate` with its KV cache sharded by heads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

MESHES = [(8, 1), (2, 4), (1, 8)]
QUERY = "bert/encoder/layer/0/attention/self/query/kernel"
QUERY_BIAS = "bert/encoder/layer/0/attention/self/query/bias"
NORM = "bert/embeddings/LayerNorm/scale"
WORDS = "bert/embeddings/word_embeddings/embedding"  # [99, 32]: 99 splits no mesh axis, 32 does


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    xla_flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8".strip()
    env = {**os.environ, "XLA_FLAGS": xla_flags, "JAX_PLATFORMS": "cpu"}  # the suite's flags, and 8 devices
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    folder = tmp_path_factory.mktemp("sharding")
    done = subprocess.run(
        [sys.executable, __file__, str(folder)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("shape", MESHES)
def test_sharded_outputs_equal_the_unsharded_model(report, shape):
    assert report["devices"] == 8
    assert report[str(shape)]["max_logit_diff"] <= 1e-5
    assert report[str(shape)]["max_hidden_diff"] <= 1e-5


@pytest.mark.parametrize("shape", MESHES)
def test_parameters_are_sharded_as_declared(report, shape):
    specs = report[str(shape)]["specs"]
    data, model = shape
    assert specs[QUERY] == ([None, "model"] if model > 1 else [None, None])
    assert specs[QUERY_BIAS] == [] and specs[NORM] == []
    # the word embeddings' larger axis (99 rows) splits over no mesh axis: replicated
    assert specs[WORDS] == [None, None]
    assert report[str(shape)]["query_shard_shape"] == [32, 32 // model]


def test_fsdp_shards_kernels_over_data_too(report):
    specs = report["fsdp"]["specs"]
    assert specs[QUERY] == ["data", "model"]
    assert specs[NORM] == []
    assert report["fsdp"]["query_shard_shape"] == [16, 8]
    assert report["fsdp"]["max_logit_diff"] <= 1e-5


def test_partition_rules_override_the_defaults(report):
    specs = report["rules"]["specs"]
    assert specs[QUERY] == ["model", None]  # the rule: input axis over "model"
    assert specs[NORM] == []
    assert report["rules"]["max_logit_diff"] <= 1e-5


@pytest.mark.parametrize("shape", MESHES)
def test_save_from_sharded_params_is_the_canonical_checkpoint(report, shape):
    assert report[str(shape)]["saved_bytes_equal"] is True


@pytest.mark.parametrize("shape", MESHES)
def test_a_sharded_training_step_equals_the_unsharded_step(report, shape):
    assert report[str(shape)]["step_loss_diff"] <= 1e-5
    assert report[str(shape)]["step_param_diff"] <= 1e-5


@pytest.mark.parametrize("shape", MESHES)
def test_generate_on_a_mesh_keeps_the_kv_cache_sharded_by_heads(report, shape):
    """Greedy tokens equal the unsharded model; the cache (8 kv heads) is split over "model" in the loop."""
    gen = report["generate"][str(shape)]
    assert gen["tokens"] == report["generate"]["unsharded"]
    data, model = shape
    assert gen["cache_spec"] == ([None, "model", None, None] if model > 1 else [])
    assert gen["cache_shard_shape"] == [2, 8 // model, 11, 4]  # [batch, kv_heads / model, max_len, head_dim]
    # in the compiled loop: k and v of 2 layers pinned at init, after the prefill and after each decode step
    assert gen["constraints"] == 12
    assert gen["head_constraints"] == (12 if model > 1 else 0)


def test_bad_options_are_refused(report):
    assert "mesh lacks" in report["errors"]["unknown_axis"]
    assert "does not divide" in report["errors"]["indivisible"]
    assert "pass mesh=" in report["errors"]["rules_without_mesh"]
    assert "jax.sharding.Mesh" in report["errors"]["not_a_mesh"]


def test_torch_refuses_mesh_by_name(tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from rosetta import BertModel
    from rosetta.core.errors import InputError
    from tests.parity import tiny_config

    BertModel(tiny_config()).save_pretrained(tmp_path)
    with pytest.raises(InputError, match="mesh= is a JAX option"):
        BertModel.from_pretrained(tmp_path, mesh=object())


def test_a_model_class_may_declare_partition_rules(tmp_path):
    import jax
    import numpy as np
    from jax.sharding import Mesh, PartitionSpec

    from rosetta import FlaxBertModel
    from rosetta.backends.flax.sharding import param_shardings
    from tests.parity import tiny_config

    class Declared(FlaxBertModel):
        _partition_rules = (("attention/self/query/kernel$", PartitionSpec("model", None)),)

    FlaxBertModel(tiny_config(num_hidden_layers=1)).save_pretrained(tmp_path)
    mesh = Mesh(np.array(jax.devices()[:1]).reshape(1, 1), ("data", "model"))
    specs = param_shardings(Declared.from_pretrained(tmp_path, mesh=mesh).params)
    assert specs["encoder/layer/0/attention/self/query/kernel"] == PartitionSpec("model", None)
    assert specs["encoder/layer/0/attention/self/key/kernel"] == PartitionSpec(None, None)  # default


# -- the subprocess ------------------------------------------------------------------------------------
def _main(folder: str) -> None:  # pragma: no cover - runs in the subprocess
    import jax
    import numpy as np
    import optax
    from jax.sharding import Mesh, PartitionSpec

    from rosetta import FlaxBertForSequenceClassification
    from rosetta.backends.flax.sharding import param_shardings
    from rosetta.backends.flax.training import create_train_state, shard_batch, train_step
    from rosetta.core.errors import InputError
    from tests.parity import tiny_config

    config = tiny_config(num_hidden_layers=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    source = os.path.join(folder, "source")
    FlaxBertForSequenceClassification(config, seed=3).save_pretrained(source)
    original = _tensor_bytes(Path(source, "model.safetensors"))
    rng = np.random.default_rng(0)
    batch = {
        "input_ids": rng.integers(1, 99, (8, 8)).astype(np.int32),
        "attention_mask": np.ones((8, 8), np.int32),
        "labels": rng.integers(0, 2, 8).astype(np.int32),
    }
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    plain = FlaxBertForSequenceClassification.from_pretrained(source)
    expected = plain(**inputs, output_hidden_states=True)
    step = _sgd_step(create_train_state, train_step, optax, plain, batch)

    def check(model, name: str, mesh: Mesh, train: bool = True) -> dict:
        out = model(**inputs, output_hidden_states=True)
        kernel = model.params["bert"]["encoder"]["layer"]["0"]["attention"]["self"]["query"]["kernel"]
        saved = os.path.join(folder, name)
        model.save_pretrained(saved)
        report = {
            "max_logit_diff": float(np.abs(np.asarray(out.logits) - np.asarray(expected.logits)).max()),
            "max_hidden_diff": float(
                np.abs(np.asarray(out.hidden_states[-1]) - np.asarray(expected.hidden_states[-1])).max()
            ),
            "specs": {k: list(v) for k, v in param_shardings(model.params).items()},
            "query_shard_shape": list(kernel.addressable_shards[0].data.shape),
            "saved_bytes_equal": _tensor_bytes(Path(saved, "model.safetensors")) == original,
        }
        if not train:
            return report
        loss, params = _sgd_step(create_train_state, train_step, optax, model, shard_batch(batch, mesh))
        return {
            **report,
            "step_loss_diff": abs(loss - step[0]),
            "step_param_diff": max(
                float(np.abs(np.asarray(a) - np.asarray(b)).max())
                for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(step[1]))
            ),
        }

    devices = np.array(jax.devices())
    result: dict = {"devices": len(devices)}
    for shape in MESHES:
        mesh = Mesh(devices.reshape(shape), ("data", "model"))
        model = FlaxBertForSequenceClassification.from_pretrained(source, mesh=mesh)
        result[str(shape)] = check(model, "x".join(map(str, shape)), mesh)
    mesh = Mesh(devices.reshape(2, 4), ("data", "model"))
    fsdp = FlaxBertForSequenceClassification.from_pretrained(source, mesh=mesh, fsdp=True)
    result["fsdp"] = check(fsdp, "fsdp", mesh, train=False)
    rules = [("attention/self/query/kernel$", PartitionSpec("model", None))]
    ruled = FlaxBertForSequenceClassification.from_pretrained(source, mesh=mesh, partition_rules=rules)
    result["rules"] = check(ruled, "rules", mesh, train=False)
    result["errors"] = _errors(FlaxBertForSequenceClassification, source, mesh, InputError, PartitionSpec)
    result["generate"] = _generate(folder, devices, Mesh)
    print(json.dumps(result))


def _generate(folder: str, devices, mesh_cls) -> dict:
    """Greedy generation of a tiny Llama (8 kv heads) unsharded and on each mesh, and its cache's sharding."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rosetta import FlaxLlamaForCausalLM
    from tests.parity import tiny_config

    source = os.path.join(folder, "llama")
    FlaxLlamaForCausalLM(
        tiny_config("llama", num_attention_heads=8, num_key_value_heads=8), seed=1
    ).save_pretrained(source)
    ids = np.random.default_rng(0).integers(1, 99, (2, 5)).astype(np.int32)
    out = {
        "unsharded": np.asarray(
            FlaxLlamaForCausalLM.from_pretrained(source).generate(ids, max_new_tokens=6)
        ).tolist()
    }
    for shape in MESHES:
        model = FlaxLlamaForCausalLM.from_pretrained(
            source, mesh=mesh_cls(devices.reshape(shape), ("data", "model"))
        )
        tokens = np.asarray(model.generate(ids, max_new_tokens=6, do_sample=False)).tolist()
        (compiled,) = model._generate_fns.values()
        hlo = compiled.lower(
            model.params, jnp.asarray(ids), jnp.ones(ids.shape, jnp.int32), jax.random.PRNGKey(0)
        )
        lines = [
            line
            for line in hlo.as_text().splitlines()
            if "sharding_constraint" in line and "2x8x11x4" in line
        ]
        key = model._constrain_cache(model.init_cache(2, 11))[0][0]
        out[str(shape)] = {
            "tokens": tokens,
            "cache_spec": list(key.sharding.spec),
            "cache_shard_shape": list(key.addressable_shards[0].data.shape),
            "constraints": len(lines),
            "head_constraints": sum('[{}, {"model"}, {}, {}]' in line for line in lines),
        }
    return out


def _tensor_bytes(path: Path) -> dict[str, tuple[str, bytes]]:
    """name -> (dtype, raw bytes) of every tensor of a safetensors file (its metadata left aside)."""
    from safetensors.numpy import load_file

    return {name: (str(array.dtype), array.tobytes()) for name, array in load_file(str(path)).items()}


def _sgd_step(create_train_state, train_step, optax, model, batch) -> tuple[float, object]:
    state = create_train_state(model, optimizer=optax.sgd(0.5), max_grad_norm=None)
    state, metrics = train_step(state, batch)
    return float(metrics["loss"]), state.params


def _errors(cls, source, mesh, error, spec) -> dict[str, str]:
    attempts = {
        "unknown_axis": dict(mesh=mesh, partition_rules=[("query/kernel$", spec("tensor", None))]),
        "indivisible": dict(mesh=mesh, partition_rules=[("word_embeddings", spec("model", None))]),
        "rules_without_mesh": dict(fsdp=True),
        "not_a_mesh": dict(mesh="cpu"),
    }
    messages = {}
    for name, kwargs in attempts.items():
        try:
            cls.from_pretrained(source, **kwargs)
            messages[name] = "no error"
        except error as caught:
            messages[name] = str(caught)
    return messages


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1])
