"""rosetta.backends.torch.pytorch_utils.decoding_linear (Linear, GPT-2's Conv1D): a decoding step's few fp32 CPU
rows take oneDNN's linear where it is the faster kernel for that weight on this machine, with the values of the
layout's own kernel (F.linear, addmm); everything else is that kernel itself."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rosetta.backends.torch import pytorch_utils  # noqa: E402
from rosetta.backends.torch.pytorch_utils import FEW_ROWS, Linear  # noqa: E402


@pytest.fixture
def onednn_calls(monkeypatch):
    """Counts the calls that reach oneDNN's kernel (which this torch build has: CI's torch is the CPU build),
    with oneDNN taken as the faster kernel for every weight."""
    op = pytorch_utils.onednn_linear()
    assert op is not None, "this torch has no oneDNN linear that agrees with F.linear"
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return op(*args)

    monkeypatch.setattr(pytorch_utils, "onednn_linear", lambda: counted)
    monkeypatch.setattr(pytorch_utils, "onednn_is_faster", lambda weight, rows, in_out=False: True)
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
    ["grad enabled", "more rows", "bfloat16", "non-contiguous weight", "tensor subclass", "F.linear faster"],
)
def test_everything_else_is_f_linear(onednn_calls, monkeypatch, case):
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
    if case == "F.linear faster":
        monkeypatch.setattr(pytorch_utils, "onednn_is_faster", lambda weight, rows, in_out=False: False)
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


@pytest.fixture
def probes(monkeypatch):
    """Replaces the timing with one whose (F.linear, oneDNN) seconds a test sets, and records each probe."""
    monkeypatch.setattr(pytorch_utils, "_ONEDNN_IS_FASTER", {})
    record = {"seconds": (1.0, 1.0), "calls": []}

    def probe_seconds(weight, rows, in_out=False):
        record["calls"].append((tuple(weight.shape), rows, in_out))
        return record["seconds"]

    monkeypatch.setattr(pytorch_utils, "probe_seconds", probe_seconds)
    return record


def test_onednn_is_taken_only_beyond_the_margin_and_each_shape_is_timed_once(probes):
    weight = torch.zeros(1024, 512)  # 2 MiB: above PROBE_MIN_BYTES
    probes["seconds"] = (1.0, 0.95)  # within the margin: F.linear, transformers' kernel, stays
    assert not pytorch_utils.onednn_is_faster(weight, 1)
    probes["seconds"] = (1.0, 0.85)
    assert not pytorch_utils.onednn_is_faster(weight, 1)  # the first timing of this shape holds
    assert pytorch_utils.onednn_is_faster(weight, 8)  # another row count is timed on its own
    assert pytorch_utils.onednn_is_faster(torch.zeros(1024, 512), 8)  # the same shape, another weight
    assert pytorch_utils.onednn_is_faster(weight, 8, in_out=True)  # the [in, out] layout is timed on its own
    assert probes["calls"] == [((1024, 512), 1, False), ((1024, 512), 8, False), ((1024, 512), 8, True)]


def test_a_small_weight_stays_on_f_linear_untimed(probes):
    probes["seconds"] = (1.0, 0.1)
    assert not pytorch_utils.onednn_is_faster(torch.zeros(64, 48), 1)
    assert probes["calls"] == []


@pytest.mark.parametrize("in_out", [False, True])
def test_the_probe_times_both_kernels_over_copies_and_leaves_the_weight_alone(monkeypatch, in_out):
    monkeypatch.setattr(pytorch_utils, "PROBE_WORKING_SET", 3 << 20)  # two copies of a 2 MiB weight
    weight = torch.randn(1024, 512)
    before = weight.clone()
    seconds = pytorch_utils.probe_seconds(weight, 2, in_out)
    assert len(seconds) == 2 and all(0 < s < 10 for s in seconds)
    assert torch.equal(weight, before)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 64), (FEW_ROWS, 64), (2, 1, 64)])
def test_a_weight_stored_in_out_takes_onednn_with_addmms_values(onednn_calls, bias, shape):
    """GPT-2's Conv1D layout: oneDNN reads the [in, out] weight through its transpose, with addmm's values."""
    torch.manual_seed(0)
    weight, x = torch.randn(64, 48), torch.randn(*shape)
    b = torch.randn(48) if bias else None
    rows = x.reshape(-1, 64)
    expected = (torch.addmm(b, rows, weight) if bias else rows @ weight).view(*shape[:-1], 48)
    with torch.no_grad():
        out = pytorch_utils.decoding_linear(x, weight, b, in_out=True)
    assert onednn_calls == [x.shape]
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_a_weight_stored_in_out_keeps_addmm_with_grad_and_for_many_rows(onednn_calls):
    torch.manual_seed(0)
    weight, bias = torch.randn(64, 48, requires_grad=True), torch.randn(48)
    for x in (torch.randn(1, 64), torch.randn(FEW_ROWS + 1, 64)):
        out = pytorch_utils.decoding_linear(x, weight, bias, in_out=True)
        assert torch.equal(out, torch.addmm(bias, x, weight))
    assert onednn_calls == []
    out.sum().backward()
    assert weight.grad is not None


def test_gpt2_generate_steps_take_onednn_and_keep_their_tokens(onednn_calls, monkeypatch):
    """Every Conv1D of a GPT-2 decoding step and its LM head run oneDNN's kernel; the greedy tokens are those
    of the addmm path."""
    import rosetta

    config = rosetta.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    torch.manual_seed(0)
    model = rosetta.GPT2LMHeadModel(config).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]])  # a prefill of more than FEW_ROWS rows
    fast = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0)
    per_step = 2 * 4 + 1  # c_attn, c_proj, c_fc, mlp c_proj in each block, then the LM head
    expected = 1 + 3 * per_step  # the prefill's LM head on its last position, then three decoding steps
    assert len(onednn_calls) == expected
    monkeypatch.setattr(pytorch_utils, "FEW_ROWS", 0)
    assert torch.equal(model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0), fast)
    assert len(onednn_calls) == expected
