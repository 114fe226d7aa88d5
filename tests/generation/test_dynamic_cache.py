"""The torch `DynamicCache` (grown by concatenation, `use_static_cache=False`): token-identical to
transformers' generate and to our static cache, on real Llama and GPT-2 models (tiny configs)."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from tests.parity import rosetta_class, tiny_config_dict

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rosetta.backends.torch.cache import DynamicCache  # noqa: E402

from .test_generate import _prompt  # noqa: E402

MAX_NEW = 10
HF = {"llama": ("LlamaConfig", "LlamaForCausalLM"), "gpt2": ("GPT2Config", "GPT2LMHeadModel")}
CASES = [{}, {"eos_token_id": "two", "min_new_tokens": 4}, {"num_beams": 3, "eos_token_id": "two"}]


@pytest.fixture(scope="module", params=sorted(HF))
def checkpoint(request, tmp_path_factory):
    arch = request.param
    config_name, model_name = HF[arch]
    folder = tmp_path_factory.mktemp(arch)
    torch.manual_seed(0)
    hf = getattr(transformers, model_name)(
        getattr(transformers, config_name)(**tiny_config_dict(arch))
    ).eval()
    hf.save_pretrained(folder)
    ids, mask = _prompt(hf.config.vocab_size - 1)
    ref = hf.generate(
        input_ids=torch.tensor(ids),
        attention_mask=torch.tensor(mask),
        max_new_tokens=MAX_NEW,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    eos = [int(ref[0, 9]), int(ref[1, 11])]  # tokens the model does produce, so rows end early
    ours = rosetta_class("torch", model_name).from_pretrained(folder)
    return hf, ours, ids, mask, eos


@pytest.mark.parametrize("case", CASES, ids=["greedy", "eos-list-min-new", "beam"])
def test_dynamic_cache_matches_transformers_and_the_static_cache(checkpoint, case):
    hf, ours, ids, mask, eos = checkpoint
    kwargs = dict(case)
    if "eos_token_id" in kwargs:
        kwargs["eos_token_id"] = eos
    common = dict(max_new_tokens=MAX_NEW, do_sample=False, pad_token_id=0)
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    expected = hf.generate(
        input_ids=ids_t, attention_mask=mask_t, **{"eos_token_id": None, **common, **kwargs}
    )
    dynamic = ours.generate(ids_t, mask_t, use_static_cache=False, **common, **kwargs)
    static = ours.generate(ids_t, mask_t, use_static_cache=True, **common, **kwargs)
    np.testing.assert_array_equal(dynamic.numpy(), expected.numpy())
    np.testing.assert_array_equal(static.numpy(), expected.numpy())


def test_dynamic_cache_grows_by_concatenation_and_matches_the_full_forward(checkpoint):
    _, ours, ids, mask, _ = checkpoint
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    positions = (mask_t.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    with torch.no_grad():
        prefill = ours(
            input_ids=ids_t[:, :5],
            attention_mask=mask_t[:, :5],
            position_ids=positions[:, :5],
            past_key_values=cache,
            cache_position=0,
        ).logits
        assert len(cache) == ours.config.num_hidden_layers and cache.seen_tokens == 5
        assert cache.key_cache[0].shape[:3] == (ids.shape[0], cache.key_cache[0].shape[1], 5)
        step = ours(
            input_ids=ids_t[:, 5:],
            attention_mask=mask_t,
            position_ids=positions[:, 5:],
            past_key_values=cache,
            cache_position=5,
        ).logits
        full = ours(input_ids=ids_t, attention_mask=mask_t, position_ids=positions).logits
    assert cache.seen_tokens == ids.shape[1]
    real = mask == 1  # padded positions carry no meaning
    torch.testing.assert_close(prefill[real[:, :5]], full[:, :5][real[:, :5]], atol=1e-5, rtol=0)
    torch.testing.assert_close(step[real[:, 5:]], full[:, 5:][real[:, 5:]], atol=1e-5, rtol=0)


def test_dynamic_cache_refuses_a_write_that_does_not_append():
    cache = DynamicCache()
    key = torch.zeros(1, 2, 3, 4)
    cache.update(0, key, key, 0)
    assert cache.key_length(1) == 4
    cache.check_fits(3, 1)
    with pytest.raises(InputError, match="cache_position 3, not 1"):
        cache.check_fits(1, 1)
    with pytest.raises(InputError, match="layers fill in order"):
        cache.update(2, key, key, 0)


def test_the_slot_is_checked_wherever_reading_it_costs_no_device_sync():
    from rosetta.backends.torch.cache import StaticCache, check_fits_on_host

    cache = StaticCache(1, 1, 2, 8, 4, dtype=torch.float32, device=torch.device("cpu"))
    for slot in (6, torch.tensor(6), torch.tensor([6], dtype=torch.int32)):
        check_fits_on_host(cache, slot, 2)
    for slot in (7, torch.tensor(7)):
        with pytest.raises(
            InputError, match="Writing 2 positions at cache_position 7 overruns the cache of 8"
        ):
            check_fits_on_host(cache, slot, 2)
    check_fits_on_host(cache, torch.tensor(7, device="meta"), 2)  # off the host: left on its device
