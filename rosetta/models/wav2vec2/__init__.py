"""Wav2Vec2: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "wav2vec2"
TOKENIZER = "Wav2Vec2CTCTokenizer"
FEATURE_EXTRACTOR = "Wav2Vec2FeatureExtractor"
PROCESSOR = "Wav2Vec2Processor"
IMPORT_STRUCTURE = {
    "tokenization_wav2vec2": ["Wav2Vec2CTCTokenizer"],
    "feature_extraction_wav2vec2": ["Wav2Vec2FeatureExtractor"],
    "processing_wav2vec2": ["Wav2Vec2Processor"],
}
