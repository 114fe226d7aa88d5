"""Whisper: the registry entry; importing it imports no framework."""

_HEADS = {
    "base": "Model",
    "speech-seq2seq": "ForConditionalGeneration",
}

MODEL_TYPE = "whisper"
CONFIG = "WhisperConfig"
FEATURE_EXTRACTOR = "WhisperFeatureExtractor"
TOKENIZER = "WhisperTokenizer"
PROCESSOR = "WhisperProcessor"
MODELS = {
    "torch": {task: f"Whisper{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFWhisper{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxWhisper{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_whisper": ["WhisperConfig"],
    "feature_extraction_whisper": ["WhisperFeatureExtractor"],
    "tokenization_whisper": ["WhisperTokenizer"],
    "processing_whisper": ["WhisperProcessor"],
    "modeling_whisper": ["WhisperPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_whisper": ["TFWhisperPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_whisper": ["FlaxWhisperPreTrainedModel", *MODELS["flax"].values()],
}

# How CTranslate2's model.bin (spec "WhisperSpec") names this architecture; read by rosetta.convert.formats.ct2.
# "rules": regex over the file's variable name -> the canonical names of its row blocks, split evenly along
# axis 0 (None: a block transformers has no parameter for, dropped; it must be all zeros). Groups are named.
_L = r"(?P<stack>encoder|decoder)/layer_(?P<i>\d+)"
_T = "model.{stack}.layers.{i}"
CT2 = {
    "spec": "WhisperSpec",
    "model_type": "whisper",
    "architectures": ["WhisperForConditionalGeneration"],
    "leaf_names": {
        "gamma": "weight",
        "beta": "bias",
        "weight": "weight",
        "bias": "bias",
        "encodings": "weight",
    },
    "rules": [
        (
            _L + r"/self_attention/linear_0/(?P<leaf>weight|bias)",
            [_T + ".self_attn.q_proj", _T + ".self_attn.k_proj", _T + ".self_attn.v_proj"],
        ),
        (_L + r"/self_attention/linear_1/(?P<leaf>weight|bias)", [_T + ".self_attn.out_proj"]),
        (_L + r"/self_attention/layer_norm/(?P<leaf>gamma|beta)", [_T + ".self_attn_layer_norm"]),
        (_L + r"/attention/linear_0/(?P<leaf>weight|bias)", [_T + ".encoder_attn.q_proj"]),
        (
            _L + r"/attention/linear_1/(?P<leaf>weight|bias)",
            [_T + ".encoder_attn.k_proj", _T + ".encoder_attn.v_proj"],
        ),
        (_L + r"/attention/linear_2/(?P<leaf>weight|bias)", [_T + ".encoder_attn.out_proj"]),
        (_L + r"/attention/layer_norm/(?P<leaf>gamma|beta)", [_T + ".encoder_attn_layer_norm"]),
        (_L + r"/ffn/linear_0/(?P<leaf>weight|bias)", [_T + ".fc1"]),
        (_L + r"/ffn/linear_1/(?P<leaf>weight|bias)", [_T + ".fc2"]),
        (_L + r"/ffn/layer_norm/(?P<leaf>gamma|beta)", [_T + ".final_layer_norm"]),
        (r"(?P<stack>encoder|decoder)/layer_norm/(?P<leaf>gamma|beta)", ["model.{stack}.layer_norm"]),
        (r"encoder/(?P<conv>conv[12])/(?P<leaf>weight|bias)", ["model.encoder.{conv}"]),
        (
            r"(?P<stack>encoder|decoder)/position_encodings/(?P<leaf>encodings)",
            ["model.{stack}.embed_positions"],
        ),
        (r"decoder/embeddings/(?P<leaf>weight)", ["model.decoder.embed_tokens"]),
    ],  # fmt: skip
    "biases_without_parameter": ["k_proj.bias"],  # canonical suffixes dropped (all zeros in the file)
    # config field -> (variable, axis of its shape) / (scalar variable,) / (layer-count prefix pattern,)
    "config_shapes": {
        "vocab_size": ("decoder/embeddings/weight", 0),
        "d_model": ("decoder/embeddings/weight", 1),
        "num_mel_bins": ("encoder/conv1/weight", 1),
        "max_source_positions": ("encoder/position_encodings/encodings", 0),
        "max_target_positions": ("decoder/position_encodings/encodings", 0),
        "encoder_ffn_dim": ("encoder/layer_0/ffn/linear_0/weight", 0),
        "decoder_ffn_dim": ("decoder/layer_0/ffn/linear_0/weight", 0),
    },
    "config_scalars": {
        "encoder_attention_heads": "encoder/num_heads",
        "decoder_attention_heads": "decoder/num_heads",
    },
    "config_layers": {"encoder_layers": "encoder/layer_", "decoder_layers": "decoder/layer_"},
    # the folder's config.json (CTranslate2's) -> config fields
    "config_file": {"suppress_ids": "suppress_tokens", "suppress_ids_begin": "begin_suppress_tokens"},
    # config fields read from tokenizer.json's added tokens
    "special_tokens": {
        "decoder_start_token_id": "<|startoftranscript|>",
        "bos_token_id": "<|endoftext|>",
        "eos_token_id": "<|endoftext|>",
        "pad_token_id": "<|endoftext|>",
    },
    # generation_config.json: these config fields, plus token ids by their text
    "generation_fields": [
        "decoder_start_token_id",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "suppress_tokens",
        "begin_suppress_tokens",
        "max_target_positions:max_length",
    ],  # fmt: skip
    "generation_tokens": {"no_timestamps_token_id": "<|notimestamps|>"},
}
