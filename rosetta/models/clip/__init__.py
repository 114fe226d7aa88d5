"""CLIP: the registry entry; importing this package imports no framework.

config.json of a CLIP model says "clip"; its towers' configs (model_type "clip_text_model" and
"clip_vision_model") are read by their own config classes, from their own folder or a CLIP one.
"""

_HEADS = {
    "base": "Model",
    "zero-shot-image-classification": "Model",
}
_PARTS = ("TextModel", "VisionModel", "TextModelWithProjection", "VisionModelWithProjection")

MODEL_TYPE = "clip"
CONFIG = "CLIPConfig"
TOKENIZER = "CLIPTokenizer"
IMAGE_PROCESSOR = "CLIPImageProcessor"
PROCESSOR = "CLIPProcessor"
MODELS = {
    "torch": {task: f"CLIP{suffix}" for task, suffix in _HEADS.items()},
    "tf": {task: f"TFCLIP{suffix}" for task, suffix in _HEADS.items()},
    "flax": {task: f"FlaxCLIP{suffix}" for task, suffix in _HEADS.items()},
}
IMPORT_STRUCTURE = {
    "configuration_clip": ["CLIPConfig", "CLIPTextConfig", "CLIPVisionConfig"],
    "tokenization_clip": ["CLIPTokenizer"],
    "image_processing_clip": ["CLIPImageProcessor"],
    "processing_clip": ["CLIPProcessor"],
    "modeling_clip": ["CLIPPreTrainedModel", "CLIPModel", *(f"CLIP{p}" for p in _PARTS)],
    "modeling_tf_clip": ["TFCLIPPreTrainedModel", "TFCLIPModel", *(f"TFCLIP{p}" for p in _PARTS)],
    "modeling_flax_clip": ["FlaxCLIPPreTrainedModel", "FlaxCLIPModel", *(f"FlaxCLIP{p}" for p in _PARTS)],
}
