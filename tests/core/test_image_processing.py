"""Image processors (ViT, CLIP) against transformers' PIL-based ones, on generated images of many kinds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rosetta.core.errors import InputError, MissingFileError
from rosetta.models.clip.image_processing_clip import CLIPImageProcessor
from rosetta.models.vit.image_processing_vit import ViTImageProcessor

TOL = 1e-5
RNG = np.random.default_rng(0)


def _images() -> dict[str, object]:
    """Inputs of several sizes, modes and layouts (all 3-channel after do_convert_rgb)."""
    rgb = RNG.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    return {
        "pil-rgb": Image.fromarray(rgb),
        "pil-rgb-small": Image.fromarray(RNG.integers(0, 256, (17, 33, 3), dtype=np.uint8)),
        "pil-l": Image.fromarray(RNG.integers(0, 256, (100, 120), dtype=np.uint8)),
        "pil-rgba": Image.fromarray(RNG.integers(0, 256, (64, 300, 4), dtype=np.uint8), "RGBA"),
        "pil-p": Image.fromarray(rgb).convert("P"),
        "np-hwc-uint8": RNG.integers(0, 256, (90, 160, 3), dtype=np.uint8),
        "np-chw-uint8": RNG.integers(0, 256, (3, 50, 70), dtype=np.uint8),
        "np-hwc-float": RNG.random((40, 41, 3)).astype(np.float32),
        "np-chw-float64": RNG.random((3, 224, 224)),
        "np-hw1-uint8": RNG.integers(0, 256, (60, 80, 1), dtype=np.uint8),
        "np-rgba-uint8": RNG.integers(0, 256, (30, 500, 4), dtype=np.uint8),
    }


IMAGES = _images()


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("transformers")
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    return {ViTImageProcessor: ViTImageProcessorPil(), CLIPImageProcessor: CLIPImageProcessorPil()}


@pytest.mark.parametrize("cls", [ViTImageProcessor, CLIPImageProcessor])
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_matches_transformers(cls, name, reference):
    image = IMAGES[name]
    ours = cls()(image, do_convert_rgb=True)["pixel_values"][0]
    theirs = np.asarray(reference[cls](image, do_convert_rgb=True)["pixel_values"][0])
    assert ours.shape == theirs.shape == (3, 224, 224) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=TOL, rtol=0)


OVERRIDES = [
    {"size": 96, "crop_size": 64},
    {
        "size": {"shortest_edge": 50},
        "crop_size": {"height": 120, "width": 80},
    },  # crop larger than the image: zero padding
    {"do_center_crop": False, "size": {"height": 31, "width": 47}, "resample": Image.Resampling.NEAREST},
    {"do_resize": False, "crop_size": {"height": 16, "width": 16}},
    {"do_normalize": False, "size": {"shortest_edge": 32, "longest_edge": 40}, "do_center_crop": False},
    {"do_rescale": False, "image_mean": [100.0, 110.0, 120.0], "image_std": [50.0, 60.0, 70.0]},
]


@pytest.mark.parametrize("overrides", OVERRIDES)
def test_options_match_transformers(overrides, reference):
    ours, theirs = CLIPImageProcessor(), reference[CLIPImageProcessor]
    for name in ("pil-rgb", "np-chw-uint8", "np-hwc-float", "pil-rgba"):
        a = ours(IMAGES[name], **overrides)["pixel_values"][0]
        b = np.asarray(theirs(IMAGES[name], **overrides)["pixel_values"][0])
        assert a.shape == b.shape, (overrides, name)
        np.testing.assert_allclose(a, b, atol=TOL, rtol=0, err_msg=str((overrides, name)))


def test_batches_and_layouts():
    processor = ViTImageProcessor()
    hwc = [RNG.integers(0, 256, (50, 60, 3), dtype=np.uint8) for _ in range(3)]
    batch = processor(np.stack(hwc), return_tensors="np")["pixel_values"]
    assert batch.shape == (3, 3, 224, 224)
    as_list = processor(hwc, return_tensors="np")["pixel_values"]
    as_chw = processor([x.transpose(2, 0, 1) for x in hwc], return_tensors="np")["pixel_values"]
    as_pil = processor([Image.fromarray(x) for x in hwc], return_tensors="np")["pixel_values"]
    nested = processor([[hwc[0]], [hwc[1], hwc[2]]], return_tensors="np")["pixel_values"]
    for other in (as_list, as_chw, as_pil, nested):
        np.testing.assert_array_equal(other, batch)
    gray = processor(RNG.integers(0, 256, (20, 30), dtype=np.uint8), do_convert_rgb=True)["pixel_values"][0]
    assert gray.shape == (3, 224, 224)

    class ArrayLike:  # any object numpy can view, e.g. from a library rosetta does not know
        def __array__(self, dtype=None, copy=None):
            return hwc[0]

    np.testing.assert_array_equal(processor([ArrayLike()], return_tensors="np")["pixel_values"][0], batch[0])
    ambiguous = RNG.integers(0, 256, (3, 20, 3), dtype=np.uint8)
    assert processor(ambiguous, input_data_format="channels_last", do_resize=False)["pixel_values"][
        0
    ].shape == (3, 3, 20)


def _tensor_class(framework: str) -> type:
    return {
        "np": lambda: np.ndarray,
        "pt": lambda: pytest.importorskip("torch").Tensor,
        "tf": lambda: pytest.importorskip("tensorflow").Tensor,
        "jax": lambda: pytest.importorskip("jax").Array,
    }[framework]()


@pytest.mark.parametrize("framework", ["np", "pt", "tf", "jax"])
def test_framework_tensors_in_and_out(framework):
    tensor_class = _tensor_class(framework)
    processor = CLIPImageProcessor()
    image = RNG.integers(0, 256, (3, 64, 80), dtype=np.uint8)
    expected = processor(image, return_tensors="np")["pixel_values"]
    out = processor(image, return_tensors=framework)["pixel_values"]
    assert isinstance(out, tensor_class) and tuple(out.shape) == (1, 3, 224, 224)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-6)
    if framework != "np":  # a tensor of that framework as input (channels first)
        from rosetta.core.tensors import to_framework

        as_input = processor(to_framework(image, framework), return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(as_input, expected, atol=1e-6)


def test_save_load_round_trips(tmp_path, reference):
    import transformers

    ours = CLIPImageProcessor(size=256, crop_size=240)
    ours.save_pretrained(tmp_path / "rosetta")
    config = json.loads((tmp_path / "rosetta" / "preprocessor_config.json").read_text())
    assert config["image_processor_type"] == "CLIPImageProcessor" and config["size"] == {"shortest_edge": 256}
    assert CLIPImageProcessor.from_pretrained(tmp_path / "rosetta") == ours
    theirs = transformers.AutoImageProcessor.from_pretrained(tmp_path / "rosetta")
    assert type(theirs).__name__.startswith("CLIPImageProcessor") and dict(theirs.crop_size) == {
        "height": 240,
        "width": 240,
    }
    image = IMAGES["pil-rgb"]
    np.testing.assert_allclose(
        ours(image)["pixel_values"][0], np.asarray(theirs(image)["pixel_values"][0]), atol=TOL
    )

    reference[ViTImageProcessor].save_pretrained(tmp_path / "transformers")
    from rosetta import AutoImageProcessor

    loaded = AutoImageProcessor.from_pretrained(tmp_path / "transformers")
    assert type(loaded) is ViTImageProcessor and loaded.size == {"height": 224, "width": 224}
    legacy = {
        "feature_extractor_type": "ViTFeatureExtractor",
        "size": 32,
        "do_normalize": False,
        "resample": 2,
    }
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "preprocessor_config.json").write_text(json.dumps(legacy))
    old = ViTImageProcessor.from_pretrained(tmp_path / "legacy")
    assert old.size == {"height": 32, "width": 32} and old(image)["pixel_values"][0].shape == (3, 32, 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match="preprocessor_config.json"):
        ViTImageProcessor.from_pretrained(tmp_path / "empty")


BAD = [
    ({"images": None}, "No images were given"),
    ({"images": []}, "list of images is empty"),
    ({"images": "cat.png"}, "must be PIL images, numpy arrays or tensors, got str"),
    ({"images": [np.zeros((5, 5, 3), np.uint8), 3]}, r"images\[1\] is a int"),
    ({"images": np.zeros((2, 2, 5, 5, 3), np.uint8)}, "2, 3 or 4"),
    ({"images": np.zeros((7, 5, 5), np.uint8)}, "Cannot tell the channel axis"),
    ({"images": np.full((5, 5, 3), 3.5, np.float32)}, "values in \\[0, 1\\]"),
    (
        {"images": np.zeros((5, 5, 3), np.uint8), "return_tensors": "cupy"},
        "return_tensors='cupy' is not supported",
    ),
    ({"images": np.zeros((5, 5, 3), np.uint8), "size": {"width": 3}}, "size must have the keys"),
    (
        {"images": Image.new("L", (5, 5)), "do_convert_rgb": False},
        "1 channel\\(s\\) but image_mean has 3 values.*do_convert_rgb=True",
    ),
    (
        {"images": np.zeros((5, 5, 3), np.uint8), "do_center_crop": True, "crop_size": {"shortest_edge": 3}},
        "crop_size must have 'height' and 'width'",
    ),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_input_is_input_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        ViTImageProcessor()(**kwargs)
