"""What `rosetta modular` generates from small modular sources over a fake BERT."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rosetta.modular import generate
from rosetta.modular.errors import ModularError

from .fake_bert import add_modular

OLD_NAME = re.compile(r"(?<![a-z])bert", re.IGNORECASE)


def classes(text: str) -> list[str]:
    return re.findall(r"^class (\w+)", text, re.MULTILINE)


def body_of(text: str, cls: str) -> str:
    """The source of one top-level class (up to the next top-level statement)."""
    match = re.search(rf"^class {cls}\b.*?(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"class {cls} not found"
    return match.group(0)


# -- files, banner, renaming -------------------------------------------------------------------------
def test_generates_one_file_per_kind_with_a_banner(roberta: Path):
    out = generate(roberta)
    assert sorted(out) == [
        "configuration_roberta.py",
        "modeling_flax_roberta.py",
        "modeling_roberta.py",
        "modeling_tf_roberta.py",
    ]
    for text in out.values():
        assert str(roberta.parent.parent.parent.parent) not in text  # no machine-specific path
        first, second = text.splitlines()[:2]
        assert (
            first.startswith("# This file was generated from ")
            and "models/roberta/modular_roberta.py" in first
        )
        assert "Do not edit" in second


def test_renames_names_strings_and_docstrings(roberta: Path):
    out = generate(roberta)
    for name, text in out.items():
        assert not OLD_NAME.search(text), f"{name} still mentions bert: {OLD_NAME.search(text)}"
    modeling = out["modeling_roberta.py"]
    assert "ROBERTA_ACTIVATIONS = " in modeling  # BERT_ACTIVATIONS
    assert "def roberta_attention_scale(" in modeling  # bert_attention_scale
    assert 'base_model_prefix = "roberta"' in modeling
    assert '"""The bare ROBERTA encoder."""' in modeling
    assert "class TFRobertaMainLayer(keras.layers.Layer):" in out["modeling_tf_roberta.py"]
    assert 'self.roberta = TFRobertaMainLayer(config, name="roberta")' in out["modeling_tf_roberta.py"]
    assert "class FlaxRobertaEmbeddings(nn.Module):" in out["modeling_flax_roberta.py"]
    assert 'model_type = "roberta"' in out["configuration_roberta.py"]


def test_camel_name_is_read_from_the_class_names(models: Path):
    source = add_modular(
        models,
        "xlm_roberta",
        """
        from ..bert.modeling_bert import BertModel


        class XLMRobertaModel(BertModel):
            pass
        """,
    )
    out = generate(source)
    assert "class XLMRobertaEmbeddings(nn.Module):" in out["modeling_xlm_roberta.py"]
    assert "XLM_ROBERTA_ACTIVATIONS" in out["modeling_xlm_roberta.py"]
    assert "from .configuration_xlm_roberta import XLMRobertaConfig" in out["modeling_xlm_roberta.py"]


# -- dependencies --------------------------------------------------------------------------------------
def test_pulls_in_what_the_flattened_classes_use_and_nothing_else(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertModel


        class RobertaModel(BertModel):
            pass
        """,
    )
    out = generate(source)
    assert sorted(out) == ["configuration_roberta.py", "modeling_roberta.py"]
    modeling = out["modeling_roberta.py"]
    assert classes(modeling) == [
        "RobertaEmbeddings",
        "RobertaSelfAttention",
        "RobertaLayer",
        "RobertaPreTrainedModel",
        "RobertaModel",
    ]  # the parent's order; the heads are not used, so not pulled in
    assert "def roberta_attention_scale(" in modeling and "ROBERTA_ACTIVATIONS = {" in modeling
    assert "import math\n" in modeling
    assert "from ...backends.torch.modeling_utils import PreTrainedModel\n" in modeling
    assert "from .configuration_roberta import RobertaConfig\n" in modeling
    # the config is a dependency too: its file is generated from the parent's, renamed
    assert "class RobertaConfig(PretrainedConfig):" in out["configuration_roberta.py"]
    assert "from ...core.configuration import PretrainedConfig" in out["configuration_roberta.py"]


def test_own_definitions_replace_the_parents_everywhere(roberta: Path):
    modeling = generate(roberta)["modeling_roberta.py"]
    assert modeling.count("class RobertaEmbeddings(") == 1
    assert "create_position_ids_from_input_ids(input_ids, self.padding_idx)" in body_of(
        modeling, "RobertaEmbeddings"
    )
    assert "self.embeddings = RobertaEmbeddings(config)" in body_of(modeling, "RobertaModel")
    # a new class goes right before its first user; a new function before the class using it
    order = classes(modeling)
    assert order.index("RobertaClassificationHead") == order.index("RobertaForSequenceClassification") - 1
    assert modeling.index("def create_position_ids_from_input_ids") < modeling.index(
        "class RobertaEmbeddings"
    )


def test_reaches_a_parent_name_without_importing_it(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertModel


        class RobertaModel(BertModel):
            def first_layer(self) -> RobertaLayer:
                return self.layers[0]
        """,
    )
    modeling = generate(source)["modeling_roberta.py"]
    assert "class RobertaLayer(nn.Module):" in modeling


def test_imports_are_aliased_as_the_parent_file_does(roberta: Path):
    flax = generate(roberta)["modeling_flax_roberta.py"]
    assert "fnn" not in flax
    assert "self.pooler = nn.Dense(self.config.hidden_size, dtype=self.dtype)" in flax
    assert "import flax.linen as nn\n" in flax
    assert "torch" not in flax and "tensorflow" not in flax


# -- methods and super() ----------------------------------------------------------------------------------
def test_init_super_call_is_inlined_and_assignments_replaced_in_place(roberta: Path):
    embeddings = body_of(generate(roberta)["modeling_roberta.py"], "RobertaEmbeddings")
    init = embeddings[embeddings.index("def __init__") : embeddings.index("def forward")]
    lines = [line.strip() for line in init.splitlines() if line.strip()]
    assert lines == [
        "def __init__(self, config: RobertaConfig):",
        "super().__init__()",
        "self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)",
        "# absolute positions",
        "self.position_embeddings = nn.Embedding(",
        "config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id",
        ")",
        "self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)",
        "self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)",
        "self.dropout = nn.Dropout(config.hidden_dropout_prob)",
        "self.padding_idx = config.pad_token_id",
    ]
    assert "_parent_" not in embeddings
    # the method it does not override is the parent's, the one it does is its own
    assert "torch.arange" not in embeddings and "def forward(" in embeddings


def test_del_in_init_removes_the_parents_assignment(roberta: Path):
    head = body_of(generate(roberta)["modeling_roberta.py"], "RobertaForSequenceClassification")
    assert "dropout" not in head
    assert "del " not in head
    init = head[: head.index("def forward")]
    assert [line.strip() for line in init.splitlines()[1:] if line.strip()] == [
        "def __init__(self, config: RobertaConfig):",
        "super().__init__(config)",
        "self.num_labels = config.num_labels",
        "self.roberta = RobertaModel(config, add_pooling_layer=False)",
        "self.classifier = RobertaClassificationHead(config)",
        "self.post_init()",
    ]


def test_a_call_repeated_by_the_child_runs_once_where_the_child_has_it(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from torch import nn

        from ..bert.modeling_bert import BertForMaskedLM


        class RobertaLMHead(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.dense = nn.Linear(config.hidden_size, config.vocab_size)

            def forward(self, hidden_states):
                return self.dense(hidden_states)


        class RobertaForMaskedLM(BertForMaskedLM):
            def __init__(self, config):
                super().__init__(config)
                del self.decoder
                self.lm_head = RobertaLMHead(config)
                self.post_init()

            def forward(self, input_ids):
                hidden_states, _ = self.roberta(input_ids)
                return self.lm_head(hidden_states)
        """,
    )
    head = body_of(generate(source)["modeling_roberta.py"], "RobertaForMaskedLM")
    init = head[head.index("def __init__") : head.index("def forward")]
    assert [line.strip() for line in init.splitlines() if line.strip()] == [
        "def __init__(self, config: RobertaConfig):",  # the parent's annotation
        "super().__init__(config)",
        "self.roberta = RobertaModel(config, add_pooling_layer=False)",
        "self.lm_head = RobertaLMHead(config)",
        "self.post_init()",
    ]


def test_super_in_other_methods(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        import torch

        from ..bert.modeling_bert import BertLayer, BertSelfAttention


        class RobertaSelfAttention(BertSelfAttention):
            def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
                output = super().forward(hidden_states)
                return output * 2


        class RobertaLayer(BertLayer):
            def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
                if hidden_states.shape[1] == 0:
                    return hidden_states
                return 0.5 * super().forward(hidden_states)

            def extra(self, hidden_states):
                return super().forward(hidden_states) + super().__sizeof__()
        """,
    )
    modeling = generate(source)["modeling_roberta.py"]
    attention = body_of(modeling, "RobertaSelfAttention")
    forward = attention[attention.index("def forward") :]
    assert "super()" not in forward and "_parent_" not in forward
    assert "output = torch.matmul(probs, value).transpose(1, 2).reshape(batch, length, width)" in forward
    assert forward.rstrip().endswith("return output * 2")
    layer = body_of(modeling, "RobertaLayer")
    # not inlinable (inside an expression): the parent's method is kept under another name
    assert "return 0.5 * self._parent_forward(hidden_states)" in layer
    assert "def _parent_forward(self, hidden_states: torch.Tensor) -> torch.Tensor:" in layer
    assert layer.index("def _parent_forward") < layer.index("def forward")
    # super() of a method the parent does not define (its base does) stays super()
    assert "return self._parent_forward(hidden_states) + super().__sizeof__()" in layer
    assert layer.count("super().__init__()") == 1


def test_return_super_is_inlined(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertEmbeddings


        class RobertaEmbeddings(BertEmbeddings):
            def create_position_ids(self, input_ids):
                input_ids = input_ids.clamp(min=0)
                return super().create_position_ids(input_ids)
        """,
    )
    embeddings = body_of(generate(source)["modeling_roberta.py"], "RobertaEmbeddings")
    method = embeddings[embeddings.index("def create_position_ids") :]
    assert [line.strip() for line in method.splitlines() if line.strip()] == [
        "def create_position_ids(self, input_ids: torch.Tensor) -> torch.Tensor:",  # the parent's annotations
        "input_ids = input_ids.clamp(min=0)",
        "return torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)",
    ]


def test_arguments_bound_to_other_expressions(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertModel


        class RobertaModel(BertModel):
            def __init__(self, config):
                super().__init__(config)
                self.extra = 1


        class RobertaPooled(BertModel):
            def __init__(self, cfg, pool: bool = False):
                super().__init__(cfg.text_config, add_pooling_layer=not pool)
        """,
    )
    modeling = generate(source)["modeling_roberta.py"]
    model = body_of(modeling, "RobertaModel")
    # an argument left to its default becomes a local set to that default
    assert "add_pooling_layer = True\n" in model
    assert (
        "self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None"
        in model
    )
    pooled = body_of(modeling, "RobertaPooled")
    # a dotted argument is substituted; any other expression is assigned first
    assert "add_pooling_layer = not pool\n" in pooled
    assert "self.embeddings = RobertaEmbeddings(cfg.text_config)" in pooled
    assert "def __init__(self, cfg: RobertaConfig, pool: bool = False):" not in pooled  # child signature kept
    assert "def __init__(self, cfg, pool: bool = False):" in pooled


def test_star_args_passed_on_are_inlined(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_tf_bert import TFBertModel


        class TFRobertaModel(TFBertModel):
            def __init__(self, config, *args, **kwargs):
                super().__init__(config, *args, **kwargs)
                self.extra = 1
        """,
    )
    model = body_of(generate(source)["modeling_tf_roberta.py"], "TFRobertaModel")
    init = model[model.index("def __init__") : model.index("def call")]
    assert [line.strip() for line in init.splitlines() if line.strip()] == [
        "def __init__(self, config: RobertaConfig, *args, **kwargs):",
        "super().__init__(config, *args, **kwargs)",  # the parent's `*inputs`, named as the child names it
        'self.roberta = TFRobertaMainLayer(config, name="roberta")',
        "self.extra = 1",
    ]


# -- configs ----------------------------------------------------------------------------------------------
def test_config_gets_added_arguments(roberta: Path):
    config = generate(roberta)["configuration_roberta.py"]
    signature = config[config.index("def __init__(") : config.index("):\n", config.index("def __init__("))]
    params = re.findall(r"^\s+(\w+)(?::[^=]*)?(?: = (.*))?,$", signature, re.MULTILINE)
    names = [name for name, _ in params]
    assert names[:3] == ["self", "vocab_size", "hidden_size"]
    assert names[-3:] == [
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
    ]  # the parent's order, then the new ones
    assert "pad_token_id: int = 1," in signature and "bos_token_id: int = 0," in signature
    assert "**kwargs: Any," in signature
    assert (
        "super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)"
        in config
    )
    assert "        bos_token_id: Id of the beginning-of-sequence token.\n" in config
    assert "        vocab_size: Number of tokens in the vocabulary.\n" in config
    assert config.index("pad_token_id: Id of the padding token.") < config.index("bos_token_id: Id of the")
    assert '"""Configuration of a RoBERTa model.' in config


def test_config_with_new_attribute_and_docs(models: Path):
    source = add_modular(
        models,
        "longbert",
        """
        from ..bert.configuration_bert import BertConfig


        class LongbertConfig(BertConfig):
            \"\"\"Configuration of a Longbert model.

            Args:
                attention_window: Tokens each token attends to on each side.
                max_position_embeddings: Longest sequence (4096 for Longbert).
            \"\"\"

            model_type = "longbert"

            def __init__(self, attention_window: int = 256, max_position_embeddings: int = 4096, **kwargs):
                super().__init__(max_position_embeddings=max_position_embeddings, **kwargs)
                self.attention_window = attention_window
        """,
    )
    config = generate(source)["configuration_longbert.py"]
    assert "max_position_embeddings: int = 4096," in config
    assert "attention_window: int = 256," in config
    assert config.rstrip().endswith("self.attention_window = attention_window")
    assert "max_position_embeddings: Longest sequence (4096 for Longbert)." in config
    assert "Longest sequence the position embeddings cover" not in config
    assert "attention_window: Tokens each token attends to on each side." in config


def test_config_argument_without_docs_is_an_error(models: Path):
    source = add_modular(
        models,
        "longbert",
        """
        from ..bert.configuration_bert import BertConfig


        class LongbertConfig(BertConfig):
            def __init__(self, attention_window: int = 256, **kwargs):
                super().__init__(**kwargs)
                self.attention_window = attention_window
        """,
    )
    with pytest.raises(
        ModularError, match=r"modular_longbert.py.*`LongbertConfig` adds the argument\(s\) `attention_window`"
    ):
        generate(source)


@pytest.mark.parametrize(
    "removal",
    [
        """
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                del self.type_vocab_size
        """,
        """
            @property
            def type_vocab_size(self):
                raise AttributeError("Not used by Distil")
        """,
    ],
    ids=["del", "attribute-error-property"],
)
def test_config_removes_an_argument(models: Path, removal: str):
    source = add_modular(
        models,
        "distil",
        """
        from ..bert.configuration_bert import BertConfig


        class DistilConfig(BertConfig):
            model_type = "distil"
        """
        + removal,
    )
    config = generate(source)["configuration_distil.py"]
    assert "type_vocab_size" not in config
    assert "AttributeError" not in config and "del " not in config
    assert "max_position_embeddings: int = 512,\n        initializer_range: float = 0.02," in config
    assert "self.max_position_embeddings = max_position_embeddings\n        self.initializer_range" in config


def test_removing_an_argument_passed_on_drops_the_keyword(models: Path):
    source = add_modular(
        models,
        "nopad",
        """
        from ..bert.configuration_bert import BertConfig


        class NopadConfig(BertConfig):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                del self.pad_token_id
        """,
    )
    config = generate(source)["configuration_nopad.py"]
    assert "super().__init__(**kwargs)" in config
    assert "pad_token_id" not in config


def test_removing_what_the_parent_does_not_have_is_an_error(models: Path):
    source = add_modular(
        models,
        "distil",
        """
        from ..bert.configuration_bert import BertConfig


        class DistilConfig(BertConfig):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                del self.no_such_thing
        """,
    )
    with pytest.raises(ModularError, match="removes `no_such_thing`"):
        generate(source)


# -- the unused-replacement rule ------------------------------------------------------------------------------
UNUSED_REPLACEMENT = """
from torch import nn

from ..bert.modeling_bert import BertEmbeddings, BertModel


class RobertaCustomEmbeddings(BertEmbeddings):
    def __init__(self, config):
        super().__init__(config)
        self.extra = nn.Linear(config.hidden_size, config.hidden_size)


class RobertaModel(BertModel):
{model_body}
"""


def test_a_replacement_that_is_not_used_is_an_error(models: Path):
    source = add_modular(models, "roberta", UNUSED_REPLACEMENT.format(model_body="    pass"))
    with pytest.raises(ModularError) as info:
        generate(source)
    message = str(info.value)
    assert (
        "You defined `RobertaCustomEmbeddings` in modular_roberta.py; it should be used when you define `RobertaModel`"
        in message
    )
    assert "as it is one of its direct dependencies" in message
    assert "still uses `RobertaEmbeddings`" in message
    assert "Make sure you use it in the `__init__` function" in message


def test_a_replacement_that_is_used_is_fine(models: Path):
    body = """
    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config, add_pooling_layer)
        self.embeddings = RobertaCustomEmbeddings(config)
"""
    source = add_modular(models, "roberta", UNUSED_REPLACEMENT.format(model_body=body))
    modeling = generate(source)["modeling_roberta.py"]
    assert "self.embeddings = RobertaCustomEmbeddings(config)" in body_of(modeling, "RobertaModel")
    assert "class RobertaEmbeddings" not in modeling
    # placed where the class it derives from stood
    assert classes(modeling)[0] == "RobertaCustomEmbeddings"


def test_defining_both_names_is_the_way_to_keep_both(models: Path):
    source = add_modular(
        models,
        "roberta",
        UNUSED_REPLACEMENT.format(model_body="    pass")
        + "\n\nclass RobertaEmbeddings(BertEmbeddings):\n    pass\n",
    )
    assert "class RobertaEmbeddings(nn.Module)" in generate(source)["modeling_roberta.py"]


# -- several levels -------------------------------------------------------------------------------------------
CAMEMBERT = """
from ..roberta.configuration_roberta import RobertaConfig
from ..roberta.modeling_roberta import RobertaForSequenceClassification
from ..roberta.modeling_tf_roberta import TFRobertaModel


class CamembertConfig(RobertaConfig):
    model_type = "camembert"


class CamembertForSequenceClassification(RobertaForSequenceClassification):
    pass


class TFCamembertModel(TFRobertaModel):
    pass
"""


def test_two_levels_of_modular_sources(roberta: Path):
    source = add_modular(roberta.parent.parent, "camembert", CAMEMBERT)
    # roberta's files are not written: the camembert generation uses what roberta's modular source generates
    assert not (roberta.parent / "modeling_roberta.py").exists()
    out = generate(source)
    assert sorted(out) == ["configuration_camembert.py", "modeling_camembert.py", "modeling_tf_camembert.py"]
    modeling = out["modeling_camembert.py"]
    assert not re.search(r"Roberta|roberta|ROBERTA", "".join(out.values()))
    assert not OLD_NAME.search("".join(out.values()))
    assert "create_position_ids_from_input_ids(input_ids, self.padding_idx)" in modeling  # RoBERTa's own code
    assert "class CamembertClassificationHead(nn.Module):" in modeling
    assert "pad_token_id: int = 1," in out["configuration_camembert.py"]
    assert 'model_type = "camembert"' in out["configuration_camembert.py"]
    assert "class TFCamembertEmbeddings(keras.layers.Layer):" in out["modeling_tf_camembert.py"]
    # the generated banner of roberta's files does not travel
    assert out["modeling_camembert.py"].count("This file was generated") == 1


def test_cycle_between_modular_sources_is_an_error(models: Path):
    add_modular(
        models, "aaa", "from ..bbb.modeling_bbb import BbbModel\n\n\nclass AaaModel(BbbModel):\n    pass\n"
    )
    source = add_modular(
        models, "bbb", "from ..aaa.modeling_aaa import AaaModel\n\n\nclass BbbModel(AaaModel):\n    pass\n"
    )
    (models / "aaa" / "modeling_aaa.py").write_text("class AaaModel:\n    pass\n")
    with pytest.raises(ModularError, match="cycle"):
        generate(source)


# -- preprocessing files -------------------------------------------------------------------------------------
def test_preprocessors_go_to_their_own_files(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ...core.image_processing import BaseImageProcessor
        from ..bert.tokenization_bert import BertTokenizer


        class RobertaTokenizer(BertTokenizer):
            def __init__(self, vocab, do_lower_case: bool = False, **kwargs):
                super().__init__(vocab, do_lower_case=do_lower_case, **kwargs)


        class RobertaImageProcessor(BaseImageProcessor):
            size = 224
        """,
    )
    out = generate(source)
    assert sorted(out) == ["image_processing_roberta.py", "tokenization_roberta.py"]
    tokenizer = out["tokenization_roberta.py"]
    assert "class RobertaTokenizer(PreTrainedTokenizer):" in tokenizer
    assert "from ...core.tokenization import PreTrainedTokenizer" in tokenizer
    assert (
        "ROBERTA_SPECIAL_TOKENS = (" in tokenizer
        and "self.special_tokens = ROBERTA_SPECIAL_TOKENS" in tokenizer
    )
    assert "def __init__(self, vocab: dict[str, int], do_lower_case: bool = False, **kwargs):" in tokenizer
    assert "super().__init__(vocab, **kwargs)\n        self.do_lower_case = do_lower_case\n" in tokenizer
    assert "class RobertaImageProcessor(BaseImageProcessor):" in out["image_processing_roberta.py"]


def test_removing_what_a_method_still_uses_is_an_error(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertForSequenceClassification


        class RobertaForSequenceClassification(BertForSequenceClassification):
            def __init__(self, config):
                super().__init__(config)
                del self.dropout
        """,
    )
    with pytest.raises(
        ModularError, match=r"removes `dropout`, but its method `forward`.*still uses `self.dropout`"
    ):
        generate(source)


def test_a_local_left_unused_by_a_removal_goes_too(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertSelfAttention


        class RobertaSelfAttention(BertSelfAttention):
            def __init__(self, config):
                super().__init__(config)
                del self.scale

            def forward(self, hidden_states):
                return hidden_states
        """,
    )
    attention = body_of(generate(source)["modeling_roberta.py"], "RobertaSelfAttention")
    assert "scale" not in attention  # `self.scale = roberta_attention_scale(...)` has a call: only it goes
    assert "def roberta_attention_scale" not in generate(source)["modeling_roberta.py"]


# -- other rules ------------------------------------------------------------------------------------------------
def test_a_hand_written_file_is_never_generated_over(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.configuration_bert import BertConfig


        class RobertaConfig(BertConfig):
            pass
        """,
    )
    (source.parent / "configuration_roberta.py").write_text("class RobertaConfig:\n    pass\n")
    with pytest.raises(ModularError, match="hand-written"):
        generate(source)


def test_a_hand_written_sibling_is_imported_not_pulled(models: Path):
    source = add_modular(
        models,
        "roberta",
        """
        from ..bert.modeling_bert import BertModel


        class RobertaModel(BertModel):
            pass
        """,
    )
    (source.parent / "configuration_roberta.py").write_text("class RobertaConfig:\n    pass\n")
    out = generate(source)
    assert sorted(out) == ["modeling_roberta.py"]
    assert "from .configuration_roberta import RobertaConfig" in out["modeling_roberta.py"]


def test_unknown_kind_for_an_unused_function_is_an_error(models: Path):
    source = add_modular(models, "roberta", "def helper(x):\n    return x\n")
    with pytest.raises(ModularError, match="`helper` is used by no generated class"):
        generate(source)


def test_syntax_error_names_the_source(models: Path):
    source = add_modular(models, "roberta", "class Broken(:\n")
    with pytest.raises(ModularError, match="modular_roberta.py"):
        generate(source)
