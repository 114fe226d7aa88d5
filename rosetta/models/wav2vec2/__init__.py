"""Wav2Vec2: the registry entry; importing this package imports no framework."""

_HEADS = {
    "base": "Model",
    "ctc": "ForCTC",
    "audio-classification": "ForSequenceClassification",
}

MODEL_TYPE = "wav2vec2"
CONFIG = "Wav2Vec2Config"
TOKENIZER = "Wav2Vec2CTCTokenizer"
FEATURE_EXTRACTOR = "Wav2Vec2FeatureExtractor"
PROCESSOR = "Wav2Vec2Processor"
MODELS = {
    "torch": {task: f"Wav2Vec2{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFWav2Vec2{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxWav2Vec2{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_wav2vec2": ["Wav2Vec2Config"],
    "tokenization_wav2vec2": ["Wav2Vec2CTCTokenizer"],
    "feature_extraction_wav2vec2": ["Wav2Vec2FeatureExtractor"],
    "processing_wav2vec2": ["Wav2Vec2Processor"],
    "modeling_wav2vec2": ["Wav2Vec2PreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_wav2vec2": ["TFWav2Vec2PreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_wav2vec2": ["FlaxWav2Vec2PreTrainedModel", *MODELS["flax"].values()],
}
