"""Every public keyword of from_pretrained / from_config / save_pretrained, on every backend, with the same effect.

The keywords live once, in `rosetta.convert.pretrained.PretrainedModelBase`; these tests hold the
three backends to one behaviour: honoured, or refused by name.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rosetta.core.errors import ConfigError, InputError
from tests.parity import BACKENDS, rosetta_class, tiny_config

each_backend = pytest.mark.parametrize("backend", BACKENDS)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny BERT checkpoint saved by torch in float16 (so 'auto' has something to find)."""
    import torch

    from rosetta import BertForSequenceClassification

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    BertForSequenceClassification(tiny_config("bert", num_labels=2)).to(torch.float16).save_pretrained(folder)
    return folder


def _load(backend, checkpoint, **kwargs):
    return rosetta_class(backend, "BertForSequenceClassification").from_pretrained(checkpoint, **kwargs)


@each_backend
@pytest.mark.parametrize("spelling", ["dtype", "torch_dtype"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "auto"])
def test_dtype_and_torch_dtype_load_in_that_dtype(backend, checkpoint, spelling, dtype):
    model = _load(backend, checkpoint, **{spelling: dtype})
    expected = "float16" if dtype == "auto" else dtype
    assert model.weights_dtype_name == expected


@each_backend
def test_default_dtype_is_float32_and_config_is_not_rewritten(backend, checkpoint, tmp_path):
    model = _load(backend, checkpoint, torch_dtype="bfloat16")
    assert model.weights_dtype_name == "bfloat16"
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "bfloat16"
    assert _load(backend, checkpoint).weights_dtype_name == "float32"


@each_backend
def test_dtype_and_torch_dtype_that_disagree_are_refused(backend, checkpoint):
    with pytest.raises(InputError, match="disagree"):
        _load(backend, checkpoint, dtype="float32", torch_dtype="bfloat16")


@each_backend
def test_unknown_dtype_is_refused(backend, checkpoint):
    with pytest.raises(ConfigError, match="int3"):
        _load(backend, checkpoint, dtype="int3")


@each_backend
@pytest.mark.parametrize("spelling", ["dtype", "torch_dtype"])
def test_from_config_takes_both_dtype_spellings(backend, spelling):
    cls = rosetta_class(backend, "BertModel")
    assert cls.from_config(tiny_config("bert"), **{spelling: "bfloat16"}).weights_dtype_name == "bfloat16"


@each_backend
def test_config_fields_override_and_unknown_keywords_are_refused(backend, checkpoint, tmp_path):
    model = _load(backend, checkpoint, num_labels=2, hidden_dropout_prob=0.3)
    assert model.config.hidden_dropout_prob == 0.3
    for keyword in ("load_in_8bit", "quantization_config", "trust_remote_code", "not_a_keyword"):
        with pytest.raises(InputError, match=keyword):
            _load(backend, checkpoint, **{keyword: True})
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert not {"load_in_8bit", "device_map", "attn_implementation", "not_a_keyword"} & set(saved)


@each_backend
def test_attn_implementation(backend, checkpoint, tmp_path):
    eager = _load(backend, checkpoint, attn_implementation="eager")
    assert eager.config._attn_implementation == "eager"
    eager.save_pretrained(tmp_path)
    assert "_attn_implementation" not in json.loads((tmp_path / "config.json").read_text())
    with pytest.raises(InputError, match="flash"):
        _load(backend, checkpoint, attn_implementation="flash_attention_9")
    if backend != "torch":
        with pytest.raises(InputError, match="sdpa"):
            _load(backend, checkpoint, attn_implementation="sdpa")


def test_torch_attn_implementations_agree(checkpoint):
    backend = "torch"
    inputs = {"input_ids": np.array([[1, 5, 9, 2, 0]]), "attention_mask": np.array([[1, 1, 1, 1, 0]])}
    sdpa = _load(backend, checkpoint, attn_implementation="sdpa").numpy_call(inputs).logits
    eager = _load(backend, checkpoint, attn_implementation="eager").numpy_call(inputs).logits
    np.testing.assert_allclose(sdpa, eager, atol=1e-5)


@each_backend
def test_device_map(backend, checkpoint):
    if backend != "torch":
        with pytest.raises(InputError, match="device_map"):
            _load(backend, checkpoint, device_map="auto")
        return
    for device_map in ("cpu", "auto", {"": "cpu"}, {"bert": "cpu", "dropout": "cpu", "classifier": "cpu"}):
        model = _load(backend, checkpoint, device_map=device_map)
        assert {p.device.type for p in model.parameters()} == {"cpu"}
    with pytest.raises(InputError, match="banana"):
        _load(backend, checkpoint, device_map="banana")
    with pytest.raises(InputError, match="without a device"):
        _load(backend, checkpoint, device_map={"bert": "cpu"})
    with pytest.raises(InputError, match="does not have"):
        _load(backend, checkpoint, device_map={"nope": "cpu", "": "cpu"})


@each_backend
def test_output_loading_info_and_ignore_mismatched_sizes(backend, checkpoint):
    model, info = _load(
        backend, checkpoint, num_labels=3, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert [k for k, _, _ in info["mismatched_keys"]] == ["classifier.weight", "classifier.bias"]
    assert model.config.num_labels == 3


@each_backend
def test_hub_keywords_reach_the_resolver(backend, checkpoint):
    model = _load(
        backend, checkpoint, revision=None, cache_dir=None, local_files_only=True, token=None, from_pt=True
    )
    assert model.config.num_labels == 2
    with pytest.raises(Exception, match="nope"):
        _load(backend, checkpoint, subfolder="nope")


@each_backend
def test_generation_config_is_refused_by_a_model_that_does_not_generate(backend, checkpoint):
    with pytest.raises(InputError, match="generation_config"):
        _load(backend, checkpoint, generation_config="x")


@each_backend
def test_save_pretrained_keywords(backend, checkpoint, tmp_path):
    model = _load(backend, checkpoint)
    state = model.canonical_state_dict()
    state["classifier.bias"] = np.full_like(state["classifier.bias"], 7.0)
    model.save_pretrained(tmp_path / "a", state_dict=state, max_shard_size="20KB")
    assert (tmp_path / "a" / "model.safetensors.index.json").exists()
    again = _load(backend, tmp_path / "a")
    np.testing.assert_array_equal(again.canonical_state_dict()["classifier.bias"], [7.0, 7.0])
    model.save_pretrained(tmp_path / "b", is_main_process=False)
    assert not (tmp_path / "b").exists()
    with pytest.raises(InputError, match="safetensors"):
        model.save_pretrained(tmp_path / "c", safe_serialization=False)
    with pytest.raises(InputError, match="variant"):
        model.save_pretrained(tmp_path / "d", variant="fp16")


@pytest.mark.parametrize("backend", ["torch", "tf"])  # Flax models have no post_init: params come from shapes
def test_a_model_that_forgets_post_init_still_loads_its_weights(backend, checkpoint):
    base = rosetta_class(backend, "BertForSequenceClassification")
    module = __import__(base.__module__, fromlist=["x"])
    bert_cls = getattr(module, rosetta_class(backend, "BertModel").__name__)

    class Forgetful(base.__mro__[1]):  # the architecture's PreTrainedModel base
        def __init__(self, config, *args, **kwargs):
            super().__init__(config, *args, **kwargs)
            self.bert = bert_cls(config, add_pooling_layer=False) if backend == "torch" else bert_cls(config)
            # no self.post_init()

        def call(self, input_ids=None, training=False):
            return self.bert(input_ids=input_ids, training=training)

        def forward(self, input_ids=None):
            return self.bert(input_ids=input_ids)

    model, info = Forgetful.from_pretrained(checkpoint, output_loading_info=True, dtype="float32")
    assert not info["missing_keys"]
    reference = _load(backend, checkpoint)
    expected = reference.canonical_state_dict()["bert.embeddings.word_embeddings.weight"]
    np.testing.assert_array_equal(
        model.canonical_state_dict()["bert.embeddings.word_embeddings.weight"], expected
    )
