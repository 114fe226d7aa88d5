"""Qwen2: the registry entry; importing this package imports no framework.

The model files are generated from modular_qwen2.py (`python -m rosetta modular`).
"""

_HEADS = {
    "base": "Model",
    "causal-lm": "ForCausalLM",
    "sequence-classification": "ForSequenceClassification",
}

MODEL_TYPE = "qwen2"
DISPLAY_NAME = "Qwen2"  # how prose names it (the modular generator writes it into docstrings)
CONFIG = "Qwen2Config"
MODELS = {
    "torch": {task: f"Qwen2{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFQwen2{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxQwen2{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_qwen2": ["Qwen2Config"],
    "modeling_qwen2": ["Qwen2PreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_qwen2": ["TFQwen2PreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_qwen2": ["FlaxQwen2PreTrainedModel", *MODELS["flax"].values()],
}
