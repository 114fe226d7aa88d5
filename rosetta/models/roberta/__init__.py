"""RoBERTa: the registry entry; importing this package imports no framework.

The model files are generated from modular_roberta.py (`python -m rosetta modular`).
"""

_HEADS = {
    "base": "Model",
    "masked-lm": "ForMaskedLM",
    "sequence-classification": "ForSequenceClassification",
    "multiple-choice": "ForMultipleChoice",
    "token-classification": "ForTokenClassification",
    "question-answering": "ForQuestionAnswering",
}

MODEL_TYPE = "roberta"
DISPLAY_NAME = "RoBERTa"  # how prose names it (the modular generator writes it into docstrings)
CONFIG = "RobertaConfig"
TOKENIZER = "RobertaTokenizer"
MODELS = {
    "torch": {task: f"Roberta{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFRoberta{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxRoberta{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_roberta": ["RobertaConfig"],
    "tokenization_roberta": ["RobertaTokenizer"],
    "modeling_roberta": ["RobertaPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_roberta": ["TFRobertaPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_roberta": ["FlaxRobertaPreTrainedModel", *MODELS["flax"].values()],
}
# transformers 4.x TF/Flax names the generic rules do not give (read by rosetta.core.registry.legacy_naming).
LEGACY_NAMING = {
    "main_layer": "roberta",
    "tf_leaves": {"embeddings.word_embeddings": "weight"},
    "aliases": {"lm_head.decoder.bias": "lm_head.bias"},
    "tied": ["lm_head.decoder.weight"],
    "tf_shared": {"lm_head": "roberta/embeddings/"},
}
