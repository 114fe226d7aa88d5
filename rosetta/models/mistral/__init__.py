"""Mistral: the registry entry; importing this package imports no framework.

The model files are generated from modular_mistral.py (`python -m rosetta modular`).
"""

_HEADS = {
    "base": "Model",
    "causal-lm": "ForCausalLM",
    "sequence-classification": "ForSequenceClassification",
}

MODEL_TYPE = "mistral"
DISPLAY_NAME = "Mistral"  # how prose names it (the modular generator writes it into docstrings)
CONFIG = "MistralConfig"
MODELS = {
    "torch": {task: f"Mistral{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFMistral{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxMistral{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_mistral": ["MistralConfig"],
    "modeling_mistral": ["MistralPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_mistral": ["TFMistralPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_mistral": ["FlaxMistralPreTrainedModel", *MODELS["flax"].values()],
}
