"""Gemma: the registry entry; importing this package imports no framework.

The model files are generated from modular_gemma.py (`python -m rosetta modular`).
"""

_HEADS = {
    "base": "Model",
    "causal-lm": "ForCausalLM",
    "sequence-classification": "ForSequenceClassification",
}

MODEL_TYPE = "gemma"
DISPLAY_NAME = "Gemma"  # how prose names it (the modular generator writes it into docstrings)
CONFIG = "GemmaConfig"
MODELS = {
    "torch": {task: f"Gemma{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFGemma{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxGemma{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_gemma": ["GemmaConfig"],
    "modeling_gemma": ["GemmaPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_gemma": ["TFGemmaPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_gemma": ["FlaxGemmaPreTrainedModel", *MODELS["flax"].values()],
}
