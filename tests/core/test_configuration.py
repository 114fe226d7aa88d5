import json

import pytest

from rosetta import AutoConfig, BertConfig, PretrainedConfig
from rosetta.core.errors import ConfigError, MissingFileError, UnknownModelTypeError


def test_round_trip_keeps_unknown_keys(tmp_path):
    config = BertConfig(
        hidden_size=48, num_labels=3, my_custom_field={"a": 1}, problem_type="multi_label_classification"
    )
    config.save_pretrained(tmp_path)
    loaded = BertConfig.from_pretrained(tmp_path)
    assert loaded == config
    assert loaded.my_custom_field == {"a": 1}
    assert loaded.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"} and loaded.num_labels == 3
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["model_type"] == "bert" and data["id2label"]["2"] == "LABEL_2"


def test_overrides_and_return_unused(tmp_path):
    BertConfig().save_pretrained(tmp_path)
    config = BertConfig.from_pretrained(tmp_path, num_hidden_layers=3, output_hidden_states=True)
    assert config.num_hidden_layers == 3 and config.output_hidden_states
    config, unused = BertConfig.from_pretrained(tmp_path, return_unused_kwargs=True, hidden_size=24, foo=1)
    assert config.hidden_size == 24 and unused == {"foo": 1}


def test_attribute_map_aliases():
    class AliasConfig(PretrainedConfig):
        model_type = ""
        attribute_map = {"hidden_size": "n_embd"}

        def __init__(self, n_embd: int = 8, **kwargs):
            self.n_embd = n_embd
            super().__init__(**kwargs)

    config = AliasConfig(hidden_size=12)
    assert config.hidden_size == 12 and config.n_embd == 12
    config.hidden_size = 5
    assert config.n_embd == 5 and "hidden_size" not in config.to_dict()


def test_reads_transformers_configs(tmp_path):
    transformers = pytest.importorskip("transformers")
    for version_dir, cfg in (("v5", transformers.BertConfig(hidden_size=48, num_labels=4)),):
        folder = tmp_path / version_dir
        cfg.save_pretrained(folder)
        ours = AutoConfig.from_pretrained(folder)
        assert isinstance(ours, BertConfig) and ours.hidden_size == 48 and ours.num_labels == 4
    # A transformers 4.x config.json, as written by 4.46 (torch_dtype, transformers_version).
    legacy = {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 768,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.46.3",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 30522,
    }
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.torch_dtype == "float32" and config.position_embedding_type == "absolute"
    # and transformers reads ours back
    config.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoConfig.from_pretrained(tmp_path / "ours")
    assert theirs.hidden_size == 768 and theirs.model_type == "bert"


def test_unknown_model_type_lists_supported(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bart"}))
    with pytest.raises(UnknownModelTypeError) as err:
        AutoConfig.from_pretrained(tmp_path)
    assert "'bart'" in str(err.value) and "bert" in str(err.value) and "config.json" in str(err.value)


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert",')
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON"):
        BertConfig.from_pretrained(tmp_path)


def test_wrong_field_type_names_file_and_field(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": "big"}))
    with pytest.raises(ConfigError) as err:
        AutoConfig.from_pretrained(tmp_path)
    assert "hidden_size" in str(err.value) and "config.json" in str(err.value) and "int" in str(err.value)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "output_attentions": 1}))
    with pytest.raises(ConfigError, match="output_attentions"):
        AutoConfig.from_pretrained(tmp_path)


def test_missing_config_names_file_and_folder(tmp_path):
    with pytest.raises(MissingFileError) as err:
        BertConfig.from_pretrained(tmp_path)
    assert "config.json" in str(err.value) and str(tmp_path) in str(err.value)


def test_num_labels_validation():
    with pytest.raises(ConfigError, match="num_labels"):
        BertConfig(num_labels=0)
    with pytest.raises(ConfigError, match="problem_type"):
        BertConfig(problem_type="ranking")


def test_auto_config_for_model():
    config = AutoConfig.for_model("bert", hidden_size=24)
    assert isinstance(config, BertConfig) and config.hidden_size == 24


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vocab_size", 0),
        ("vocab_size", -5),
        ("hidden_size", -64),
        ("num_hidden_layers", 0),
        ("num_attention_heads", -1),
        ("intermediate_size", 0),
        ("max_position_embeddings", -512),
        ("type_vocab_size", 0),
        ("num_key_value_heads", 0),
        ("head_dim", -8),
        ("num_hidden_layers", None),
        ("vocab_size", True),
        ("vocab_size", 1.0e9),
    ],
)
def test_sizes_must_be_positive_ints_when_read(tmp_path, field, value):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", field: value}))
    with pytest.raises(ConfigError) as err:
        AutoConfig.from_pretrained(tmp_path)
    assert repr(field) in str(err.value) and "config.json" in str(err.value)


def test_sizes_are_checked_when_built_in_code():
    with pytest.raises(ConfigError, match="'num_hidden_layers' must be a positive integer, got -1"):
        BertConfig(num_hidden_layers=-1)
    with pytest.raises(ConfigError, match="vocab_size"):
        BertConfig.from_dict({"vocab_size": 0})


def test_impossible_head_counts_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "bert", "hidden_size": 100, "num_attention_heads": 12})
    )
    with pytest.raises(
        ConfigError,
        match=r"'hidden_size' in .*config\.json \(100\) is not a multiple of 'num_attention_heads' \(12\)",
    ):
        AutoConfig.from_pretrained(tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"'num_attention_heads' in the config dict \(12\) is not a multiple of 'num_key_value_heads' \(5\)",
    ):
        BertConfig.from_dict({"num_key_value_heads": 5})
    with pytest.raises(ConfigError, match="is not a multiple"):
        BertConfig(hidden_size=100).validate()
    assert (
        BertConfig(hidden_size=100).hidden_size == 100
    )  # built in code, field by field, as transformers allows


def test_valid_head_layouts_are_accepted():
    assert BertConfig(hidden_size=100, num_attention_heads=12, head_dim=8).head_dim == 8
    assert BertConfig(num_attention_heads=12, num_key_value_heads=4).num_key_value_heads == 4
    assert BertConfig(hidden_size=48, num_attention_heads=1).hidden_size == 48


def test_validation_follows_attribute_map_and_optional_fields():
    class GPTLikeConfig(PretrainedConfig):
        model_type = ""
        attribute_map = {"hidden_size": "n_embd", "num_attention_heads": "n_head"}

        def __init__(self, n_embd: int = 8, n_head: int = 2, intermediate_size: int | None = None, **kwargs):
            self.n_embd, self.n_head, self.intermediate_size = n_embd, n_head, intermediate_size
            super().__init__(**kwargs)

    assert GPTLikeConfig().intermediate_size is None  # declared optional: None is allowed
    with pytest.raises(ConfigError, match=r"'hidden_size' \('n_embd'\) must be a positive integer, got 0"):
        GPTLikeConfig(n_embd=0)
    with pytest.raises(
        ConfigError, match=r"'hidden_size' \('n_embd'\) in the config dict \(9\) is not a multiple"
    ):
        GPTLikeConfig.from_dict({"n_embd": 9})


def test_a_config_of_another_model_type_is_refused_unless_a_subclass_reads_it(tmp_path):
    class DerivedConfig(BertConfig):
        model_type = "derived-bert-for-test"

    DerivedConfig().save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path).model_type == "bert"  # a subclass's config: BERT reads it
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta"}))
    with pytest.raises(ConfigError, match="holds a 'roberta' config, not a 'bert' one. Use AutoConfig"):
        BertConfig.from_pretrained(tmp_path)
