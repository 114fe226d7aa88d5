"""Whisper: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "whisper"
FEATURE_EXTRACTOR = "WhisperFeatureExtractor"
IMPORT_STRUCTURE = {
    "feature_extraction_whisper": ["WhisperFeatureExtractor"],
}
