"""ViT: the registry entry (preprocessors only, no models yet); importing it imports no framework."""

MODEL_TYPE = "vit"
IMAGE_PROCESSOR = "ViTImageProcessor"
IMPORT_STRUCTURE = {
    "image_processing_vit": ["ViTImageProcessor"],
}
