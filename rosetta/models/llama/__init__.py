"""Llama: the registry entry; importing this package imports no framework."""

_HEADS = {
    "base": "Model",
    "causal-lm": "ForCausalLM",
    "sequence-classification": "ForSequenceClassification",
}

MODEL_TYPE = "llama"
CONFIG = "LlamaConfig"
TOKENIZER = "LlamaTokenizer"
MODELS = {
    "torch": {task: f"Llama{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFLlama{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxLlama{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_llama": ["LlamaConfig"],
    "tokenization_llama": ["LlamaTokenizer"],
    "modeling_llama": ["LlamaPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_llama": ["TFLlamaPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_llama": ["FlaxLlamaPreTrainedModel", *MODELS["flax"].values()],
}

# How llama.cpp's GGUF files name this architecture (read by rosetta.convert.formats.gguf through the registry).
GGUF = {
    "architecture": "llama",  # the file's general.architecture
    "architectures": ["LlamaForCausalLM"],
    # "<architecture>.<key>" metadata -> config field
    "config": {
        "context_length": "max_position_embeddings",
        "block_count": "num_hidden_layers",
        "feed_forward_length": "intermediate_size",
        "embedding_length": "hidden_size",
        "rope.dimension_count": "head_dim",
        "attention.key_length": "head_dim",
        "rope.freq_base": "rope_theta",
        "attention.head_count": "num_attention_heads",
        "attention.head_count_kv": "num_key_value_heads",
        "attention.layer_norm_rms_epsilon": "rms_norm_eps",
        "vocab_size": "vocab_size",
    },
    "top_names": {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"},
    "block_prefix": "model.layers",
    "block_names": {
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
    },  # fmt: skip
    "ignored": ["rope_freqs"],  # precomputed rope factors: the config carries them
    # modules whose rows the file stores permuted for its rotary layout -> the config field giving their head count
    "permuted": {"self_attn.q_proj": "num_attention_heads", "self_attn.k_proj": "num_key_value_heads"},
    "untied_output": "output.weight",  # absent: the LM head is tied to the embeddings
}
