"""Image tasks against transformers' pipelines on the same folder, in every framework."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import require

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
