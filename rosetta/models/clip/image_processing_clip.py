"""CLIP's image processor: RGB, shortest edge to 224 (bicubic), 224x224 center crop, OpenAI's mean and std."""

from __future__ import annotations

from PIL import Image

from ...core.image_processing import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, BaseImageProcessor


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
