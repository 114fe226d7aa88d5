"""BERT: the registry entry; importing this package imports no framework."""

_HEADS = {
    "base": "Model",
    "pretraining": "ForPreTraining",
    "masked-lm": "ForMaskedLM",
    "next-sentence-prediction": "ForNextSentencePrediction",
    "sequence-classification": "ForSequenceClassification",
    "multiple-choice": "ForMultipleChoice",
    "token-classification": "ForTokenClassification",
    "question-answering": "ForQuestionAnswering",
}

MODEL_TYPE = "bert"
CONFIG = "BertConfig"
TOKENIZER = "BertTokenizer"
MODELS = {
    "torch": {task: f"Bert{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFBert{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxBert{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_bert": ["BertConfig"],
    "tokenization_bert": ["BertTokenizer"],
    "modeling_bert": ["BertPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_bert": ["TFBertPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_bert": ["FlaxBertPreTrainedModel", *MODELS["flax"].values()],
}
# transformers 4.x TF/Flax names the generic rules do not give (read by rosetta.core.registry.legacy_naming).
LEGACY_NAMING = {
    "main_layer": "bert",
    "tf_scopes": {
        "cls.predictions": "mlm___cls/predictions",
        "cls.seq_relationship": "nsp___cls/seq_relationship",
    },
    "tf_leaves": {"embeddings.word_embeddings": "weight"},
    "aliases": {"cls.predictions.decoder.bias": "cls.predictions.bias"},
    "tied": ["cls.predictions.decoder.weight"],
    "tf_shared": {"mlm___cls": "bert/embeddings/"},  # the LM head holds the embeddings layer
}
