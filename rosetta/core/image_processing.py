"""`BaseImageProcessor`: images in any form -> normalised `pixel_values`, with numpy and Pillow.

Every step is the one Hugging Face's PIL-based image processors apply, in the same order and
with the same arithmetic, so the outputs agree: convert to RGB (compositing transparency on
white), resize with Pillow (float images go through uint8 and back, as there), center crop
(padding with zeros when the image is smaller), rescale, normalise. Each step has its `do_*`
switch. Work happens channels-last, the layout Pillow and numpy broadcasting want; the
output is channels-first `(C, H, W)` float32.

Images may be PIL images, numpy arrays, or torch / TensorFlow / JAX tensors (recognised by
type, never by importing a framework), channels first or last, one image or a batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from .errors import InputError
from .feature_extraction import FeatureExtractionMixin
from .tensors import BatchFeature, check_tensor_type, framework_of, to_numpy

__all__ = ["BaseImageProcessor", "BatchFeature", "get_size_dict"]

IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5]
IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5]
IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406]
IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225]

_SIZE_KEYS = (
    {"height", "width"},
    {"shortest_edge"},
    {"shortest_edge", "longest_edge"},
    {"longest_edge"},
    {"max_height", "max_width"},
)
_OPTIONS = (
    "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
    "do_normalize", "image_mean", "image_std", "do_convert_rgb",
)  # fmt: skip


def get_size_dict(
    size: Any, default_to_square: bool = True, param_name: str = "size"
) -> dict[str, int] | None:
    """`224` -> {"height": 224, "width": 224} (or {"shortest_edge": 224}); `(h, w)` -> a height/width dict."""
    if size is None or isinstance(size, Mapping):
        if size is not None and set(size) not in _SIZE_KEYS:
            raise InputError(
                f"{param_name} must have the keys {' or '.join(str(sorted(k)) for k in _SIZE_KEYS)}; got {dict(size)}."
            )
        return None if size is None else {k: int(v) for k, v in size.items()}
    if isinstance(size, int):
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return {"height": int(size[0]), "width": int(size[1])}
    raise InputError(f"{param_name} must be an int, a (height, width) pair or a dict, got {size!r}.")


class BaseImageProcessor(FeatureExtractionMixin):
    """Resize, center crop, rescale and normalise images; subclasses set the defaults as class attributes.

    Every option can be changed per call: `processor(images, do_center_crop=False, size=256)`.
    """

    type_key: ClassVar[str] = "image_processor_type"
    processor_key: ClassVar[str] = "image_processor"
    model_input_names: ClassVar[list[str]] = ["pixel_values"]

    do_resize: bool = True
    size: dict[str, int] | None = None
    default_to_square: bool = True  # how a bare int `size` is read
    resample: int = Image.Resampling.BILINEAR
    do_center_crop: bool = False
    crop_size: dict[str, int] | None = None
    do_rescale: bool = True
    rescale_factor: float = 1 / 255
    do_normalize: bool = True
    image_mean: list[float] | None = None
    image_std: list[float] | None = None
    do_convert_rgb: bool | None = None

    def __init__(self, **kwargs: Any):
        for name in _OPTIONS:
            value = kwargs.pop(name, None)
            setattr(self, name, value if value is not None else getattr(type(self), name))
        self.size = get_size_dict(self.size, self.default_to_square)
        self.crop_size = get_size_dict(self.crop_size, param_name="crop_size")
        self.resample = int(self.resample)
        for name in ("image_mean", "image_std"):
            if isinstance(getattr(self, name), tuple):
                setattr(self, name, list(getattr(self, name)))
        super().__init__(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if v is not None}

    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(images, **kwargs)

    def preprocess(
        self,
        images: Any,
        do_resize: bool | None = None,
        size: Any = None,
        resample: int | None = None,
        do_center_crop: bool | None = None,
        crop_size: Any = None,
        do_rescale: bool | None = None,
        rescale_factor: float | None = None,
        do_normalize: bool | None = None,
        image_mean: float | Sequence[float] | None = None,
        image_std: float | Sequence[float] | None = None,
        do_convert_rgb: bool | None = None,
        return_tensors: str | None = None,
        input_data_format: str | None = None,
    ) -> BatchFeature:
        """`pixel_values`: one (C, H, W) float32 array per image, or a tensor of the batch with `return_tensors`."""
        check_tensor_type(return_tensors)
        if input_data_format not in (None, "channels_first", "channels_last"):
            raise InputError(
                f"input_data_format must be 'channels_first', 'channels_last' or None, got {input_data_format!r}."
            )
        given = {
            "do_resize": do_resize, "size": size, "resample": resample, "do_center_crop": do_center_crop,
            "crop_size": crop_size, "do_rescale": do_rescale, "rescale_factor": rescale_factor,
            "do_normalize": do_normalize, "image_mean": image_mean, "image_std": image_std, "do_convert_rgb": do_convert_rgb,
        }  # fmt: skip
        opts = {name: getattr(self, name) if value is None else value for name, value in given.items()}
        opts["size"] = get_size_dict(opts["size"], self.default_to_square)
        opts["crop_size"] = get_size_dict(opts["crop_size"], param_name="crop_size")
        self._check_options(opts)
        pixel_values = [
            self._process(image, opts, input_data_format) for image in make_list_of_images(images)
        ]
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)

    @staticmethod
    def _check_options(opts: dict[str, Any]) -> None:
        missing = [
            what
            for what, needed in (
                ("size", opts["do_resize"] and not opts["size"]),
                ("crop_size", opts["do_center_crop"] and not opts["crop_size"]),
                ("rescale_factor", opts["do_rescale"] and opts["rescale_factor"] is None),
                (
                    "image_mean and image_std",
                    opts["do_normalize"] and (opts["image_mean"] is None or opts["image_std"] is None),
                ),
            )
            if needed
        ]
        if missing:
            raise InputError(
                f"The image processor is asked to use {', '.join(missing)} but it is not set; pass it or turn that step off."
            )
        if opts["do_center_crop"] and set(opts["crop_size"]) != {"height", "width"}:
            raise InputError(f"crop_size must have 'height' and 'width', got {opts['crop_size']}.")

    # -- one image ------------------------------------------------------------------------------
    def _process(self, image: Any, opts: dict[str, Any], input_data_format: str | None) -> np.ndarray:
        if isinstance(image, Image.Image):
            if opts["do_convert_rgb"]:
                image = convert_pil_to_rgb(image)
            if opts["do_resize"] and image.mode in ("RGB", "RGBA", "L"):
                # Resizing the PIL image itself is what the numpy path does via uint8, without the round trip.
                image = image.resize(
                    self._output_size(image.height, image.width, opts["size"])[::-1], opts["resample"]
                )
                opts = {**opts, "do_resize": False}
            array = np.asarray(image)
            array = array[..., None] if array.ndim == 2 else array
        else:
            array = to_channels_last(to_numpy(image) if framework_of(image) else image, input_data_format)
            if opts["do_convert_rgb"]:
                array = convert_array_to_rgb(array)
        if opts["do_resize"]:
            array = self.resize(array, opts["size"], opts["resample"])
        if opts["do_center_crop"]:
            array = center_crop(array, opts["crop_size"]["height"], opts["crop_size"]["width"])
        if opts["do_rescale"] or opts["do_normalize"]:
            array = self.rescale_and_normalize(array, opts)
        return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)

    @staticmethod
    def _output_size(height: int, width: int, size: dict[str, int]) -> tuple[int, int]:
        """(height, width) after resizing to `size`, as Hugging Face reads each kind of size dict."""
        if "height" in size:
            return size["height"], size["width"]
        if "max_height" in size:
            scale = min(size["max_height"] / height, size["max_width"] / width)
            return int(height * scale), int(width * scale)
        if "shortest_edge" not in size:
            raise InputError(
                f"size={size} cannot be used for resizing: give 'height' and 'width' or 'shortest_edge'."
            )
        if "longest_edge" in size:
            return _size_with_aspect_ratio(height, width, size["shortest_edge"], size["longest_edge"])
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
        return (new_long, new_short) if width <= height else (new_short, new_long)

    def resize(
        self, image: np.ndarray, size: dict[str, int], resample: int = Image.Resampling.BILINEAR
    ) -> np.ndarray:
        """Resize an (H, W, C) array with Pillow; float images in [0, 1] go through uint8 and come back scaled."""
        height, width = self._output_size(image.shape[0], image.shape[1], size)
        scaled = _needs_scaling_for_pil(image)
        pixels = (image.astype(np.float64) * 255).astype(np.float32) if scaled else image
        pil = Image.fromarray(
            pixels.astype(np.uint8)[..., 0] if image.shape[-1] == 1 else pixels.astype(np.uint8)
        )
        resized = np.asarray(pil.resize((width, height), resample=resample))
        resized = resized[..., None] if resized.ndim == 2 else resized
        return (resized.astype(np.float64) * (1 / 255)).astype(np.float32) if scaled else resized

    @staticmethod
    def rescale_and_normalize(image: np.ndarray, opts: dict[str, Any]) -> np.ndarray:
        """`image * rescale_factor`, then `(image - mean) / std` per channel, in float32."""
        if opts["do_rescale"]:
            image = (image.astype(np.float64) * opts["rescale_factor"]).astype(np.float32)
        elif not np.issubdtype(image.dtype, np.floating):
            image = image.astype(np.float32)
        if opts["do_normalize"]:
            channels = image.shape[-1]
            mean = _per_channel(opts["image_mean"], channels, "image_mean").astype(image.dtype)
            std = _per_channel(opts["image_std"], channels, "image_std").astype(image.dtype)
            image = (image - mean) / std
        return image


def _size_with_aspect_ratio(height: int, width: int, size: int, max_size: int) -> tuple[int, int]:
    """Shortest edge to `size` unless that makes the longest exceed `max_size` (torchvision's rule)."""
    raw_size = None
    if max(height, width) / min(height, width) * size > max_size:
        raw_size = max_size * min(height, width) / max(height, width)
        size = int(round(raw_size))
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    if width < height:
        return int((raw_size or size) * height / width), size
    return size, int((raw_size or size) * width / height)


def _per_channel(value: Any, channels: int, name: str) -> np.ndarray:
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * channels
    if len(values) != channels:
        raise InputError(
            f"The image has {channels} channel(s) but {name} has {len(values)} values. "
            "Pass do_convert_rgb=True to turn grayscale or RGBA images into RGB."
        )
    return np.asarray(values)


# -- input handling ---------------------------------------------------------------------------------
def is_image(value: Any) -> bool:
    """A PIL image, a numpy array, a torch/TF/JAX tensor, or anything else numpy can view (`__array__`)."""
    return (
        isinstance(value, (Image.Image, np.ndarray))
        or framework_of(value) is not None
        or hasattr(value, "__array__")
    )


def make_list_of_images(images: Any) -> list[Any]:
    """One image, a list (or nested list) of images, or a 4-d batch array/tensor -> a flat list of images."""
    if images is None:
        raise InputError(
            "No images were given. Pass a PIL image, a numpy array or tensor, or a list of them."
        )
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError("The list of images is empty; pass at least one image.")
        flat = []
        for index, item in enumerate(images):
            if isinstance(item, (list, tuple)):
                flat.extend(make_list_of_images(item))
            elif is_image(item):
                flat.append(item)
            else:
                raise InputError(
                    f"images[{index}] is a {type(item).__name__}; images must be PIL images, numpy arrays or tensors."
                )
        return flat
    if isinstance(images, Image.Image):
        return [images]
    if is_image(images):
        images = images if isinstance(images, np.ndarray) else to_numpy(images)
        ndim = images.ndim
        if ndim == 4:
            return list(images)
        if ndim in (2, 3):
            return [images]
        raise InputError(
            f"An image array must have 2, 3 or 4 (batch) dimensions, got shape {tuple(images.shape)}."
        )
    raise InputError(f"images must be PIL images, numpy arrays or tensors, got {type(images).__name__}.")


def to_channels_last(image: np.ndarray, input_data_format: str | None = None) -> np.ndarray:
    """An (H, W, C) view of a 2-d, channels-first or channels-last array (1, 3 or 4 channels are recognised)."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3:
        raise InputError(f"An image must have 2 or 3 dimensions, got shape {image.shape}.")
    if input_data_format is None:
        if image.shape[0] in (1, 3, 4):
            input_data_format = "channels_first"
        elif image.shape[-1] in (1, 3, 4):
            input_data_format = "channels_last"
        else:
            raise InputError(
                f"Cannot tell the channel axis of an image of shape {image.shape} (expected 1, 3 or 4 channels first or "
                "last). Pass input_data_format='channels_first' or 'channels_last'."
            )
    return np.moveaxis(image, 0, -1) if input_data_format == "channels_first" else image


def convert_pil_to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def convert_array_to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 1|3|4) -> (H, W, 3): gray repeated, alpha composited onto white (255, or 1.0 for floats)."""
    channels = image.shape[-1]
    if channels == 1:
        return np.repeat(image, 3, axis=-1)
    if channels != 4:
        return image
    floating = np.issubdtype(image.dtype, np.floating)
    if floating and (image.min() < 0.0 or image.max() > 1.0):
        raise InputError(
            f"An RGBA float image must have values in [0, 1] to be converted to RGB, got [{image.min()}, {image.max()}]."
        )
    white = 1.0 if floating else 255
    alpha = image[..., 3:4] / white
    composite = alpha * image[..., :3] + (1 - alpha) * white
    return composite.astype(image.dtype) if floating else np.round(composite).astype(image.dtype)


def _needs_scaling_for_pil(image: np.ndarray) -> bool:
    """Whether a float array holds [0, 1] values that must be scaled to [0, 255] to become a PIL image."""
    if image.dtype == np.uint8:
        return False
    if np.allclose(image, image.astype(int)):
        if image.min() >= 0 and image.max() <= 255:
            return False
        raise InputError(
            f"An image to resize must have values in [0, 255] (or [0, 1] as floats), got [{image.min()}, {image.max()}]."
        )
    if image.min() >= 0 and image.max() <= 1:
        return True
    raise InputError(
        f"A float image to resize must have values in [0, 1] (or [0, 255]), got [{image.min()}, {image.max()}]."
    )


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The centered (height, width) window of an (H, W, C) image, zero padded where the image is smaller."""
    orig_height, orig_width = image.shape[:2]
    top, left = (orig_height - height) // 2, (orig_width - width) // 2
    if top >= 0 and left >= 0:
        return image[top : top + height, left : left + width]
    new_height, new_width = max(height, orig_height), max(width, orig_width)
    padded = np.zeros((new_height, new_width) + image.shape[2:], dtype=image.dtype)
    top_pad, left_pad = math.ceil((new_height - orig_height) / 2), math.ceil((new_width - orig_width) / 2)
    padded[top_pad : top_pad + orig_height, left_pad : left_pad + orig_width] = image
    top, left = top + top_pad, left + left_pad
    return padded[max(0, top) : min(new_height, top + height), max(0, left) : min(new_width, left + width)]
