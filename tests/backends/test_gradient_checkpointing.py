"""Gradient checkpointing in torch, TF and Flax: the same gradients as the plain model (dropout included),
recomputation really happening, the config switch honoured, and models whose loop does not recompute refusing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity import require, rosetta_class, tiny_config, tiny_inputs, tiny_labels

# (model type, task, torch class name): a head with a loss where the task has labels
TORCH_CASES = [
    ("bert", "sequence-classification", "BertForSequenceClassification"),
    ("roberta", "sequence-classification", "RobertaForSequenceClassification"),
    ("llama", "causal-lm", "LlamaForCausalLM"),
    ("mistral", "causal-lm", "MistralForCausalLM"),
    ("gpt2", "causal-lm", "GPT2LMHeadModel"),
    ("vit", "image-classification", "ViTForImageClassification"),
    ("clip", "base", "CLIPModel"),
    ("wav2vec2", "ctc", "Wav2Vec2ForCTC"),
    ("whisper", "speech-seq2seq", "WhisperForConditionalGeneration"),
]
# TF and Flax: the BERT family, the Llama family (and a modular child) and GPT-2
TF_FLAX_CASES = [
    ("bert", "BertModel"),
    ("roberta", "RobertaModel"),
    ("llama", "LlamaForCausalLM"),
    ("mistral", "MistralForCausalLM"),
    ("gpt2", "GPT2LMHeadModel"),
]
DROPOUT = {
    "bert": {"hidden_dropout_prob": 0.1},
    "roberta": {"hidden_dropout_prob": 0.1},
    "gpt2": {"resid_pdrop": 0.1},
}


# -- torch -------------------------------------------------------------------------------------------------------
def _torch_model(name: str, model_type: str, **overrides):
    import torch

    torch.manual_seed(0)
    return rosetta_class("torch", name)(tiny_config(model_type, **overrides))


def _torch_batch(model_type: str, task: str) -> dict:
    import torch

    batch = {
        k: torch.from_numpy(np.asarray(v))
        for k, v in {**tiny_inputs(task, model_type), **tiny_labels(task)}.items()
    }
    if model_type == "clip":
        batch["return_loss"] = True
    if model_type == "whisper":  # the decoder's own tokens as labels: a loss through decoder and encoder
        batch["labels"] = batch["decoder_input_ids"].clone()
    return batch


def _torch_gradients(model, batch) -> dict:
    import torch

    model.train()
    model.zero_grad()
    torch.manual_seed(1)  # the same dropout draws in both runs (checkpoint replays the RNG when recomputing)
    model(**batch).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("model_type, task, name", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_torch_gradients_equal_the_plain_model(model_type, task, name):
    import torch

    model = _torch_model(name, model_type)
    batch = _torch_batch(model_type, task)
    plain = _torch_gradients(model, batch)
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    checkpointed = _torch_gradients(model, batch)
    assert plain.keys() == checkpointed.keys() and len(plain) > 10
    for param_name, grad in plain.items():
        torch.testing.assert_close(checkpointed[param_name], grad, rtol=0, atol=1e-6, msg=param_name)
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def _first_layer_part(model, model_type: str):
    """A module inside the first layer whose forward runs again when the layer is recomputed."""
    base = model.base_model
    return {
        "bert": lambda: base.encoder.layer[0].attention,
        "llama": lambda: base.layers[0].self_attn,
        "gpt2": lambda: base.h[0].attn,
        "vit": lambda: base.encoder.layer[0].attention,
        "wav2vec2": lambda: base.encoder.layers[0].attention,
        "whisper": lambda: base.decoder.layers[0].self_attn,
    }[model_type]()


@pytest.mark.parametrize(
    "model_type, task, name",
    [c for c in TORCH_CASES if c[0] in ("bert", "llama", "gpt2", "vit", "wav2vec2", "whisper")],
    ids=["bert", "llama", "gpt2", "vit", "wav2vec2", "whisper"],
)
def test_torch_layers_are_recomputed_in_backward_only_when_training(model_type, task, name):
    import torch

    model = _torch_model(name, model_type)
    batch = _torch_batch(model_type, task)
    calls = []
    # recomputation stops once the saved tensors are back: a part of the layer, not the layer, is counted
    handle = _first_layer_part(model, model_type).register_forward_hook(lambda *_: calls.append(1))

    def count(train: bool) -> int:
        calls.clear()
        model.train(train)
        out = model(**batch)
        if train:
            out.loss.backward()
        return len(calls)

    try:
        assert count(train=True) == 1
        model.gradient_checkpointing_enable()
        assert count(train=True) == 2  # forward, then again in backward
        with torch.no_grad():
            assert count(train=False) == 1
    finally:
        handle.remove()


def test_torch_a_kv_cache_while_training_with_checkpointing_is_refused():
    import torch

    from rosetta.core.errors import InputError

    model = _torch_model("LlamaForCausalLM", "llama")
    model.gradient_checkpointing_enable()
    ids = torch.randint(1, 99, (1, 4))
    model.train()
    with pytest.raises(InputError, match="cannot be used while training with gradient checkpointing"):
        model(ids, past_key_values=model.init_cache(1, 8), cache_position=0)
    model.eval()  # decoding with a cache is untouched
    plain = model(ids).logits
    cached = model(ids, past_key_values=model.init_cache(1, 8), cache_position=0).logits
    torch.testing.assert_close(cached, plain, rtol=0, atol=1e-5)


def test_torch_config_switch_turns_it_on():
    model = _torch_model("LlamaModel", "llama", gradient_checkpointing=True)
    assert model.is_gradient_checkpointing and model.layers[0].gradient_checkpointing


def test_trainer_argument_turns_it_on(tmp_path):
    require("torch")
    from rosetta import Trainer, TrainingArguments

    model = _torch_model("BertForSequenceClassification", "bert")
    data = [{"input_ids": list(range(5, 13)), "labels": i % 2} for i in range(4)]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=1,
        save_strategy="no",
        gradient_checkpointing=True,
        report_to="none",
        disable_tqdm=True,
        per_device_train_batch_size=4,
    )
    Trainer(model, args, train_dataset=data).train()
    assert model.is_gradient_checkpointing


def test_trainer_argument_refused_for_a_model_without_it(tmp_path):
    torch = pytest.importorskip("torch")
    from rosetta import Trainer, TrainingArguments
    from rosetta.core.errors import ConfigError

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, x, labels=None):
            return {"loss": self.linear(x).sum()}

    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, save_strategy="no", gradient_checkpointing=True
    )
    trainer = Trainer(Plain(), args, train_dataset=[{"x": [1.0, 2.0], "labels": 0}])
    with pytest.raises(ConfigError, match="gradient_checkpointing_enable"):
        trainer.train()


def test_torch_a_model_whose_loop_does_not_recompute_refuses_it():
    from rosetta.core.errors import ConfigError

    class NoRecompute(rosetta_class("torch", "BertModel")):
        supports_gradient_checkpointing = False

    with pytest.raises(ConfigError, match="NoRecompute does not support gradient checkpointing"):
        NoRecompute(tiny_config("bert")).gradient_checkpointing_enable()


# -- TensorFlow --------------------------------------------------------------------------------------------------
def _tf_model(name: str, model_type: str, **overrides):
    import keras

    keras.utils.set_random_seed(0)
    return rosetta_class("tf", name)(tiny_config(model_type, **{**DROPOUT.get(model_type, {}), **overrides}))


def _output_of(out):
    logits = getattr(out, "logits", None)
    return out.last_hidden_state if logits is None else logits


def _tf_gradients(model, inputs, seed_states) -> list:
    import tensorflow as tf

    for state, value in seed_states:  # the same dropout draws in both runs
        state.assign(value)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(_output_of(model(**inputs, training=True)) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    return [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]


def _tf_first_layer(model, model_type: str):
    base = model.base_model
    if model_type in ("bert", "roberta"):
        return base.encoder.layer[0]
    return base.h[0] if model_type == "gpt2" else base.layers[0]


@pytest.mark.parametrize("model_type, name", TF_FLAX_CASES, ids=[c[0] for c in TF_FLAX_CASES])
def test_tf_gradients_equal_the_plain_model_and_layers_are_recomputed(model_type, name):
    import tensorflow as tf

    model = _tf_model(name, model_type)
    inputs = {k: tf.constant(v) for k, v in tiny_inputs("base", model_type).items()}
    seeds = [(g.state, g.state.numpy()) for layer in model._flatten_layers() for g in layer._seed_generators]
    layer = _tf_first_layer(model, model_type)
    calls = []
    call = layer.call
    layer.call = lambda *args, **kwargs: calls.append(1) or call(*args, **kwargs)

    plain = _tf_gradients(model, inputs, seeds)
    assert len(calls) == 1
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    calls.clear()
    checkpointed = _tf_gradients(model, inputs, seeds)
    assert len(calls) == 2  # forward, then again for the gradient
    assert sum(g is not None for g in plain) > 10
    for i, (a, b) in enumerate(zip(plain, checkpointed)):
        assert (a is None) == (b is None), model.trainable_variables[i].path
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-6, err_msg=model.trainable_variables[i].path)
    calls.clear()
    model(**inputs, training=False)  # inference never recomputes
    assert len(calls) == 1
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def test_tf_fit_trains_with_checkpointing_compiled_and_the_config_switch():
    import tensorflow as tf

    model = _tf_model("LlamaForCausalLM", "llama", gradient_checkpointing=True)
    assert model.is_gradient_checkpointing
    inputs = {k: tf.constant(v) for k, v in tiny_inputs("base", "llama").items()}
    before = [w.numpy() for w in model.trainable_variables]
    model.compile(optimizer="sgd")
    history = model.fit({**inputs, "labels": inputs["input_ids"]}, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_variables))


def test_tf_a_model_whose_loop_does_not_recompute_refuses_it():
    from rosetta.core.errors import ConfigError

    model = rosetta_class("tf", "ViTModel")(tiny_config("vit"))
    with pytest.raises(ConfigError, match="TFViTModel does not support gradient checkpointing"):
        model.gradient_checkpointing_enable()


# -- Flax --------------------------------------------------------------------------------------------------------
def _flax_gradients(model, inputs, params) -> tuple[str, object]:
    """(the jaxpr of the training step's gradient, the gradients), from one trace."""
    import jax

    def loss(params):
        out = model(**inputs, params=params, train=True, dropout_rng=jax.random.PRNGKey(3))
        return (_output_of(out) ** 2).mean()

    traced = jax.jit(jax.grad(loss)).trace(params)
    return str(traced.jaxpr), traced.lower().compile()(params)


FLAX_CASES = [c for c in TF_FLAX_CASES if c[0] != "roberta"]  # RoBERTa's Flax loop is BERT's, generated


def _no_dropout(model_type: str) -> dict:
    if model_type in ("bert", "roberta"):
        return {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    if model_type == "gpt2":
        return {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
    return {}


# (model type, class, config overrides, whether the layers compute alike and so run as one scan)
FLAX_LOOPS = [(model_type, name, {}, True) for model_type, name in FLAX_CASES] + [
    ("gpt2", "GPT2LMHeadModel", {"scale_attn_by_inverse_layer_idx": True}, False),  # a scale per block
    ("bert", "BertModel", {"pruned_heads": {0: [1]}}, False),  # layer 0 has fewer heads
]


@pytest.mark.parametrize(
    "model_type, name, overrides, scans",
    FLAX_LOOPS,
    ids=[f"{c[0]}-{'scan' if c[3] else 'unrolled'}" for c in FLAX_LOOPS],
)
def test_flax_gradients_equal_the_plain_model_and_layers_are_remat(model_type, name, overrides, scans):
    import jax
    import jax.numpy as jnp

    cls = rosetta_class("flax", name)
    config = tiny_config(model_type, **_no_dropout(model_type), **overrides)
    inputs = {k: jnp.asarray(v) for k, v in tiny_inputs("base", model_type).items()}
    model = cls(config, seed=0)
    jaxpr, plain = _flax_gradients(model, inputs, model.params)
    assert "remat" not in jaxpr and "scan" not in jaxpr

    checkpointed_model = cls(config, seed=0, gradient_checkpointing=True)
    assert checkpointed_model.is_gradient_checkpointing and not hasattr(config, "_gradient_checkpointing")
    jaxpr, checkpointed = _flax_gradients(checkpointed_model, inputs, model.params)
    assert "remat" in jaxpr  # the layers recompute in the backward pass
    assert ("scan" in jaxpr) == scans  # alike layers: one scan over them; else an unrolled loop
    flat_plain = jax.tree_util.tree_leaves_with_path(plain)
    assert len(flat_plain) > 10
    for (path, a), b in zip(flat_plain, jax.tree_util.tree_leaves(checkpointed)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-6, err_msg=str(path))


@pytest.mark.parametrize("model_type, name", [("gpt2", "GPT2LMHeadModel"), ("bert", "BertModel")])
def test_flax_scanned_layers_outputs_equal_the_loop(model_type, name):
    """Hidden states and attentions collected by the scan equal the plain loop's, one per layer."""
    import jax
    import jax.numpy as jnp

    cls = rosetta_class("flax", name)
    config = tiny_config(model_type, **_no_dropout(model_type))
    inputs = {k: jnp.asarray(v) for k, v in tiny_inputs("base", model_type).items()}
    model = cls(config, seed=0)
    checkpointed_model = cls(config, seed=0, gradient_checkpointing=True)
    flags = {"output_hidden_states": True, "output_attentions": True, "train": True}
    plain = model(**inputs, **flags, dropout_rng=jax.random.PRNGKey(0))
    scanned = checkpointed_model(**inputs, **flags, params=model.params, dropout_rng=jax.random.PRNGKey(0))
    for field in ("hidden_states", "attentions"):
        assert len(getattr(scanned, field)) == len(getattr(plain, field)) > 1
        for a, b in zip(getattr(plain, field), getattr(scanned, field)):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-6)


def test_flax_scanned_dropout_recomputes_the_forward_masks():
    """Under the scan each layer draws its own dropout key, and the backward pass recomputes with that key:
    the reverse-mode gradient along a random direction equals forward mode's derivative (`jax.jvp`, which
    runs the forward once and recomputes nothing). Other masks in the recomputation would differ by ~5%
    here; dropout is really active (the loss differs from eval's)."""
    import jax
    import jax.numpy as jnp

    cls = rosetta_class("flax", "GPT2LMHeadModel")
    config = tiny_config("gpt2", resid_pdrop=0.3, embd_pdrop=0.0, attn_pdrop=0.0)
    inputs = {k: jnp.asarray(v) for k, v in tiny_inputs("base", "gpt2").items()}
    model = cls(config, seed=0, gradient_checkpointing=True)

    def loss(params, train=True):
        out = model(**inputs, params=params, train=train, dropout_rng=jax.random.PRNGKey(3))
        return (out.logits**2).mean()

    params = model.params
    assert abs(float(loss(params)) - float(loss(params, train=False))) > 1e-4

    @jax.jit  # one compile each, not one per primitive
    def reverse_and_forward(params):
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
        direction = treedef.unflatten([jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves)])
        gradient = jax.grad(loss)(params)
        reverse = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(gradient), jax.tree.leaves(direction)))
        return reverse, jax.jvp(loss, (params,), (direction,))[1]

    reverse, forward = reverse_and_forward(params)
    np.testing.assert_allclose(float(reverse), float(forward), rtol=1e-4)


def test_flax_enable_disable_from_pretrained_and_config_switch(tmp_path):
    import jax

    cls = rosetta_class("flax", "LlamaModel")
    model = cls(tiny_config("llama"))
    model.save_pretrained(tmp_path)
    inputs = {"input_ids": np.asarray(tiny_inputs("base", "llama")["input_ids"])}

    def has_remat(m) -> bool:
        return "remat" in str(jax.make_jaxpr(lambda p: m(**inputs, params=p).last_hidden_state)(m.params))

    assert not model.is_gradient_checkpointing and not has_remat(model)
    model.enable_gradient_checkpointing()  # transformers' Flax name
    assert model.is_gradient_checkpointing and has_remat(model)
    model.gradient_checkpointing_disable()
    assert not has_remat(model)
    loaded = cls.from_pretrained(tmp_path, gradient_checkpointing=True)
    assert loaded.is_gradient_checkpointing and has_remat(loaded)
    np.testing.assert_array_equal(
        np.asarray(loaded(**inputs).last_hidden_state), np.asarray(model(**inputs).last_hidden_state)
    )
    assert cls(tiny_config("llama", gradient_checkpointing=True)).is_gradient_checkpointing


def test_flax_a_model_whose_loop_does_not_recompute_refuses_it():
    from rosetta.core.errors import ConfigError

    cls = rosetta_class("flax", "ViTModel")
    with pytest.raises(ConfigError, match="FlaxViTModel does not support gradient checkpointing"):
        cls(tiny_config("vit"), gradient_checkpointing=True)
    with pytest.raises(ConfigError, match="FlaxViTModel does not support gradient checkpointing"):
        cls(tiny_config("vit")).enable_gradient_checkpointing()
