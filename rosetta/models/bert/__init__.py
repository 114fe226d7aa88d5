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
