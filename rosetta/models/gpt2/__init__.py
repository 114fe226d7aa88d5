"""GPT-2: the registry entry; importing this package imports no framework."""

_HEADS = {
    "base": "Model",
    "causal-lm": "LMHeadModel",
    "sequence-classification": "ForSequenceClassification",
}

MODEL_TYPE = "gpt2"
CONFIG = "GPT2Config"
TOKENIZER = "GPT2Tokenizer"
MODELS = {
    "torch": {task: f"GPT2{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFGPT2{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxGPT2{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_gpt2": ["GPT2Config"],
    "tokenization_gpt2": ["GPT2Tokenizer"],
    "modeling_gpt2": ["GPT2PreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_gpt2": ["TFGPT2PreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_gpt2": ["FlaxGPT2PreTrainedModel", *MODELS["flax"].values()],
}
