"""rosetta.backends.torch.pytorch_utils.Linear: a decoding step's few fp32 CPU rows take oneDNN's linear, with
F.linear's values; everything else is F.linear itself."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rosetta.backends.torch import pytorch_utils  # noqa: E402
from rosetta.backends.torch.pytorch_utils import FEW_ROWS, Linear  # noqa: E402


@pytest.fixture
def onednn_calls(monkeypatch):
    """Counts the calls that reach oneDNN's kernel (which this torch build has: CI's torch is the CPU build)."""
    op = pytorch_utils.onednn_linear()
    assert op is not None, "this torch has no oneDNN linear that agrees with F.linear"
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return op(*args)

    monkeypatch.setattr(pytorch_utils, "onednn_linear", lambda: counted)
    return calls


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 64), (FEW_ROWS, 64), (2, 1, 64), (4, 2, 64)])
def test_few_rows_without_grad_take_onednn_with_f_linear_values(onednn_calls, bias, shape):
    torch.manual_seed(0)
    layer, x = Linear(64, 48, bias=bias), torch.randn(*shape)
    expected = torch.nn.functional.linear(x, layer.weight, layer.bias)
    with torch.no_grad():
        out = layer(x)
    assert onednn_calls == [x.shape]
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "case",
    ["grad enabled", "more rows", "bfloat16", "non-contiguous weight", "tensor subclass"],
)
def test_everything_else_is_f_linear(onednn_calls, case):
    torch.manual_seed(0)
    layer, x = Linear(64, 48), torch.randn(1, 64)
    if case == "more rows":
        x = torch.randn(FEW_ROWS + 1, 64)
    if case == "bfloat16":
        layer, x = layer.to(torch.bfloat16), x.to(torch.bfloat16)
    if case == "non-contiguous weight":
        layer.weight = torch.nn.Parameter(torch.randn(64, 48).t())
    if case == "tensor subclass":

        class Marked(torch.Tensor):  # as DTensor is: a subclass that dispatches its own ops
            pass

        x = x.as_subclass(Marked)
    with torch.set_grad_enabled(case == "grad enabled"):
        out = layer(x)
    assert onednn_calls == []
    assert torch.equal(out, torch.nn.functional.linear(x, layer.weight, layer.bias))
    if case == "grad enabled":
        out.sum().backward()
        assert layer.weight.grad is not None


def test_it_is_an_nn_linear_to_every_other_piece():
    layer = Linear(8, 4)
    assert isinstance(layer, torch.nn.Linear)
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_a_decoders_generate_steps_take_onednn_and_keep_their_tokens(onednn_calls, monkeypatch):
    """Every linear of a Llama decoding step (and the LM head) runs oneDNN's kernel; the greedy tokens are
    those of the F.linear path."""
    import rosetta

    config = rosetta.LlamaConfig(
        vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = rosetta.LlamaForCausalLM(config).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]])  # a prefill of more than FEW_ROWS rows
    fast = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0)
    per_step = 2 * 7 + 1  # q, k, v, o, gate, up, down in each layer, then the LM head
    expected = 1 + 3 * per_step  # the prefill's LM head on its last position, then three decoding steps
    assert len(onednn_calls) == expected
    monkeypatch.setattr(pytorch_utils, "FEW_ROWS", 0)
    assert torch.equal(model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0), fast)
    assert len(onednn_calls) == expected


def test_a_resized_output_embedding_keeps_its_class():
    import rosetta

    config = rosetta.LlamaConfig(
        vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
        tie_word_embeddings=False,
    )  # fmt: skip
    model = rosetta.LlamaForCausalLM(config)
    model.resize_token_embeddings(120)
    assert type(model.get_output_embeddings()) is Linear
    assert model.get_output_embeddings().weight.shape == (120, 32)
