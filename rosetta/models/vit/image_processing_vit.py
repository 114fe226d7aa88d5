"""ViT's image processor: resize to 224x224 (bilinear), rescale to [0, 1], normalise to [-1, 1]."""

from __future__ import annotations

from PIL import Image

from ...core.image_processing import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD, BaseImageProcessor


class ViTImageProcessor(BaseImageProcessor):
    do_resize = True
    size = {"height": 224, "width": 224}
    resample = Image.Resampling.BILINEAR
    do_rescale = True
    do_normalize = True
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
