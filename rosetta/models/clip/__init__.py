"""CLIP: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "clip"
TOKENIZER = "CLIPTokenizer"
IMAGE_PROCESSOR = "CLIPImageProcessor"
PROCESSOR = "CLIPProcessor"
IMPORT_STRUCTURE = {
    "tokenization_clip": ["CLIPTokenizer"],
    "image_processing_clip": ["CLIPImageProcessor"],
    "processing_clip": ["CLIPProcessor"],
}
