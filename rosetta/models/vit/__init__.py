"""ViT: the registry entry; importing this package imports no framework."""

_HEADS = {
    "base": "Model",
    "image-classification": "ForImageClassification",
}

MODEL_TYPE = "vit"
CONFIG = "ViTConfig"
IMAGE_PROCESSOR = "ViTImageProcessor"
MODELS = {
    "torch": {task: f"ViT{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFViT{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxViT{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_vit": ["ViTConfig"],
    "image_processing_vit": ["ViTImageProcessor"],
    "modeling_vit": ["ViTPreTrainedModel", *MODELS["torch"].values()],
    "modeling_tf_vit": ["TFViTPreTrainedModel", *MODELS["tf"].values()],
    "modeling_flax_vit": ["FlaxViTPreTrainedModel", *MODELS["flax"].values()],
}
