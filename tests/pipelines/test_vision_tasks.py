"""Image tasks against transformers' pipelines on the same folder, in every framework."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import hf_class, require, tiny_config_dict

FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())
LABELS = ["a cat", "a dog", "a plane"]


def assert_same_ranking(ours: list[dict], theirs: list[dict]) -> None:
    assert [list(m) for m in ours] == [list(r) for r in theirs]
    assert [m["label"] for m in ours] == [r["label"] for r in theirs]
    np.testing.assert_allclose([m["score"] for m in ours], [r["score"] for r in theirs], atol=1e-4)


def _for_transformers(image):
    from PIL import Image

    return Image.fromarray(image) if isinstance(image, np.ndarray) else image


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_image_classification_matches_transformers(framework, vit_folder, images):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("image-classification", model=str(vit_folder), framework=framework)
    theirs = transformers.pipeline("image-classification", model=str(vit_folder))
    references = [theirs(_for_transformers(image), top_k=3) for image in images]
    for mine, ref in zip(ours(images, top_k=3), references):
        assert_same_ranking(mine, ref)
    assert_same_ranking(ours(images[0]), theirs(images[0]))  # default top_k: capped at the 4 labels


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_zero_shot_image_classification_matches_transformers(framework, clip_model_folder, images):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("zero-shot-image-classification", model=str(clip_model_folder), framework=framework)
    theirs = transformers.pipeline("zero-shot-image-classification", model=str(clip_model_folder))
    for image in images[:2]:
        assert_same_ranking(ours(image, candidate_labels=LABELS), theirs(image, candidate_labels=LABELS))
    template = "A picture of {}"
    assert_same_ranking(
        ours(images[0], candidate_labels=LABELS, hypothesis_template=template),
        theirs(images[0], candidate_labels=LABELS, hypothesis_template=template),
    )


def test_bad_images_and_labels_are_clear_errors(vit_folder, clip_model_folder, tmp_path):
    from rosetta import pipeline

    classify = pipeline("image-classification", model=str(vit_folder))
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    with pytest.raises(InputError, match="Cannot open the image"):
        classify(str(not_an_image))
    with pytest.raises(InputError, match="PIL image, a path"):
        classify(42)
    with pytest.raises(InputError, match="non-empty list of images"):
        classify([])
    zero_shot = pipeline("zero-shot-image-classification", model=str(clip_model_folder))
    with pytest.raises(InputError, match="candidate_labels"):
        zero_shot(np.zeros((8, 8, 3), np.uint8), candidate_labels=[])


@pytest.fixture(scope="module")
def vit_model_folder(tmp_path_factory):
    """A tiny bare ViT (with its pooler) and a 32x32 image processor."""
    import torch

    folder = tmp_path_factory.mktemp("vit-base")
    torch.manual_seed(12)
    hf_class("ViTModel")(hf_class("ViTConfig")(**tiny_config_dict("vit"))).eval().save_pretrained(folder)
    hf_class("ViTImageProcessor")(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clip_vision_folder(tmp_path_factory):
    """A tiny CLIP vision tower (model_type clip_vision_model) with its image processor."""
    import torch

    folder = tmp_path_factory.mktemp("clip-vision")
    torch.manual_seed(13)
    config = hf_class("CLIPVisionConfig")(**tiny_config_dict("clip")["vision_config"])
    hf_class("CLIPVisionModel")(config).eval().save_pretrained(folder)
    hf_class("CLIPImageProcessor")(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


def assert_same_features(ours, theirs) -> None:
    assert isinstance(ours, list) and np.shape(ours) == np.shape(theirs)  # [1][tokens][hidden] or [1][hidden]
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_image_feature_extraction_matches_transformers(
    framework, vit_model_folder, clip_vision_folder, images
):
    key = framework_key(framework)
    require(key)
    import transformers

    import rosetta
    from rosetta import pipeline

    vit = pipeline("image-feature-extraction", model=str(vit_model_folder), framework=framework)
    clip_model = getattr(rosetta, TABLE[key].class_prefix + "CLIPVisionModel").from_pretrained(
        clip_vision_folder
    )
    clip = pipeline("image-feature-extraction", model=clip_model, image_processor=str(clip_vision_folder))
    for ours, folder in ((vit, vit_model_folder), (clip, clip_vision_folder)):
        theirs = transformers.pipeline("image-feature-extraction", model=str(folder))
        references = [theirs(_for_transformers(image)) for image in images]
        for mine, ref in zip(ours(images, batch_size=2), references):
            assert_same_features(mine, ref)
        assert_same_features(ours(images[1], pool=True), theirs(images[1], pool=True))
        tensor = ours(images[0], return_tensors=True)
        assert (
            type(tensor).__module__.split(".")[0]
            == {"torch": "torch", "tf": "tensorflow", "flax": "jax"}[key]
            or "jax" in type(tensor).__module__
        )
        np.testing.assert_allclose(
            np.asarray(tensor), theirs(images[0], return_tensors=True).numpy(), atol=1e-4
        )
        raw = {"do_normalize": False}
        assert_same_features(
            ours(images[0], image_processor_kwargs=raw), theirs(images[0], image_processor_kwargs=raw)
        )
        assert not np.allclose(ours(images[0], image_processor_kwargs=raw), ours(images[0]))


def test_image_feature_extraction_bad_keywords_are_clear_errors(vit_model_folder, images):
    import rosetta
    from rosetta import pipeline

    extract = pipeline("image-feature-extraction", model=str(vit_model_folder))
    with pytest.raises(InputError, match=r"unknown keyword\(s\) \['timeout'\]"):
        extract(images[0], timeout=3)
    with pytest.raises(InputError, match="image_processor_kwargs must be a dict"):
        extract(images[0], image_processor_kwargs="big")
    no_pooler = rosetta.ViTModel.from_pretrained(vit_model_folder, add_pooling_layer=False)
    bare = pipeline("image-feature-extraction", model=no_pooler, image_processor=str(vit_model_folder))
    with pytest.raises(InputError, match="pool=True needs a pooled output"):
        bare(images[0], pool=True)
