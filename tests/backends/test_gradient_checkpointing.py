"""Gradient checkpointing in torch: the same gradients as the plain model, recomputation really happening."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rosetta import (  # noqa: E402
    BertForSequenceClassification,
    RobertaForSequenceClassification,
    Trainer,
    TrainingArguments,
)
from tests.parity import tiny_config  # noqa: E402


def _model(cls: type, seed: int = 0):
    torch.manual_seed(seed)
    return cls(tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def _gradients(model, batch) -> dict[str, torch.Tensor]:
    model.train()
    model.zero_grad()
    model(**batch).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("cls", [BertForSequenceClassification, RobertaForSequenceClassification])
def test_gradients_equal_the_plain_model(cls):
    batch = {"input_ids": torch.randint(5, 99, (3, 8)), "labels": torch.tensor([0, 1, 1])}
    model = _model(cls)
    plain = _gradients(model, batch)
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    checkpointed = _gradients(model, batch)
    assert plain.keys() == checkpointed.keys() and len(plain) > 10
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=0, atol=1e-6, msg=name)
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def _layer_forward_calls(model, batch, train: bool) -> int:
    calls = []
    # the attention block: recomputation stops once the saved tensors are back, before the layer's own hook
    layer = model.base_model.encoder.layer[0].attention
    handle = layer.register_forward_hook(lambda *_: calls.append(1))
    try:
        model.train(train)
        out = model(**batch)
        if train:
            out.loss.backward()
    finally:
        handle.remove()
    return len(calls)


def test_layers_are_recomputed_in_backward_only_when_training():
    batch = {"input_ids": torch.randint(5, 99, (2, 8)), "labels": torch.tensor([0, 1])}
    model = _model(BertForSequenceClassification)
    assert _layer_forward_calls(model, batch, train=True) == 1
    model.gradient_checkpointing_enable()
    assert _layer_forward_calls(model, batch, train=True) == 2  # forward, then again in backward
    with torch.no_grad():
        assert _layer_forward_calls(model, batch, train=False) == 1


def test_trainer_argument_turns_it_on(tmp_path):
    model = _model(BertForSequenceClassification)
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


def test_a_model_whose_loop_does_not_recompute_refuses_it():
    from rosetta import LlamaModel
    from rosetta.core.errors import ConfigError
    from tests.parity import tiny_config

    with pytest.raises(ConfigError, match="does not support gradient checkpointing"):
        LlamaModel(tiny_config("llama")).gradient_checkpointing_enable()
