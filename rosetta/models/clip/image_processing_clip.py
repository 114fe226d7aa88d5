"""CLIP's image processor: RGB, shortest edge to 224 (bicubic), 224x224 center crop, OpenAI's mean and std."""

from __future__ import annotations

from PIL import Image

from ...core.image_processing import BaseImageProcessor

# The normalisation CLIP was trained with (OpenAI's released values).
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


class CLIPImageProcessor(BaseImageProcessor):
    do_resize = True
    size = {"shortest_edge": 224}
    default_to_square = False  # `size=256` means the shortest edge
    resample = Image.Resampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    do_rescale = True
    do_normalize = True
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    do_convert_rgb = True
