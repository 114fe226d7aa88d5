"""ViT in every backend and every head, against transformers and against each other."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS
from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    check_matches_transformers,
    hf_class,
    require,
    rosetta_class,
    run,
    save_transformers_models,
    task_of,
    tiny_config_dict,
    tiny_inputs,
    tiny_labels,
    to_numpy,
)

HEADS = ["ViTModel", "ViTForImageClassification"]
TINY = tiny_config_dict("vit", num_labels=3)
TOL = 2e-5


def make_inputs(head: str, batch: int = 2) -> dict[str, np.ndarray]:
    return tiny_inputs(task_of(head), "vit", batch=batch)


def pixels(height: int, width: int, batch: int = 2, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, 3, height, width)).astype(np.float32)


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    return save_transformers_models(tmp_path_factory, "ViTConfig", HEADS, TINY)


@pytest.fixture(scope="module")
def classifiers(hf_checkpoints):
    """The transformers classification checkpoint loaded once in every backend."""
    folder, _ = hf_checkpoints["ViTForImageClassification"]
    return {b: rosetta_class(b, "ViTForImageClassification").from_pretrained(folder) for b in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("head", HEADS)
def test_matches_transformers(backend, head, hf_checkpoints):
    """Every output (hidden states, attentions, pooler, logits, loss) within 1e-5 (torch) / 2e-5 (TF, Flax)."""
    folder, reference = hf_checkpoints[head]
    labels = tiny_labels(task_of(head))
    check_matches_transformers(
        backend, head, folder, reference, make_inputs(head), labels, TOLERANCE[backend]
    )


def test_torch_sdpa_path_matches_transformers(hf_checkpoints):
    """Without attentions asked for, torch runs scaled_dot_product_attention; same numbers."""
    folder, reference = hf_checkpoints["ViTModel"]
    model = rosetta_class("torch", "ViTModel").from_pretrained(folder)
    assert model.config._attn_implementation == "sdpa"
    inputs = make_inputs("ViTModel")
    assert_close(run("torch", model, inputs), run("hf", reference, inputs), TOLERANCE["torch"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [(40, 40), (40, 56)])
def test_interpolate_pos_encoding(backend, size, classifiers, hf_checkpoints):
    """Another image size: position embeddings resized as transformers' bicubic does (5x5 and 5x7 grids)."""
    _, reference = hf_checkpoints["ViTForImageClassification"]
    inputs = {"pixel_values": pixels(*size)}
    flags = dict(interpolate_pos_encoding=True, output_hidden_states=True)
    expected = run("hf", reference, inputs, **flags)
    actual = run(backend, classifiers[backend], inputs, **flags)
    patches = (size[0] // 8) * (size[1] // 8)
    assert actual["hidden_states"][0].shape == (2, patches + 1, 32)
    assert_close(actual, expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_pixel_values_are_refused(backend, classifiers):
    model = classifiers[backend]
    with pytest.raises(InputError, match="interpolate_pos_encoding=True"):
        run(backend, model, {"pixel_values": pixels(40, 40)})
    with pytest.raises(InputError, match="num_channels"):
        run(backend, model, {"pixel_values": pixels(32, 32)[:, :1]})


@pytest.mark.parametrize("source", BACKENDS)
def test_save_in_one_backend_loads_everywhere(source, classifiers, hf_checkpoints, tmp_path):
    """A checkpoint saved by `source` loads in the other backends and in transformers with the same logits."""
    _, reference = hf_checkpoints["ViTForImageClassification"]
    classifiers[source].save_pretrained(tmp_path)
    inputs = make_inputs("ViTForImageClassification")
    expected = run("hf", reference, inputs)
    reloaded = (
        hf_class("ViTForImageClassification").from_pretrained(tmp_path, attn_implementation="eager").eval()
    )
    assert_close(run("hf", reloaded, inputs), expected, 0.0)
    for backend in BACKENDS:
        if backend != source:
            model, info = rosetta_class(backend, "ViTForImageClassification").from_pretrained(
                tmp_path, output_loading_info=True
            )
            assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
            assert_close(run(backend, model, inputs), expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_classes(backend, hf_checkpoints, classifiers):
    """AutoModelForImageClassification / TF / Flax twins pick the ViT heads from config.json."""
    require(backend)
    import rosetta

    prefix = FRAMEWORKS[backend].class_prefix
    folder, _ = hf_checkpoints["ViTForImageClassification"]
    model = getattr(rosetta, f"{prefix}AutoModelForImageClassification").from_pretrained(folder)
    assert type(model).__name__ == f"{prefix}ViTForImageClassification"
    inputs = make_inputs("ViTForImageClassification")
    assert_close(run(backend, model, inputs), run(backend, classifiers[backend], inputs), 0.0)
    base_folder, _ = hf_checkpoints["ViTModel"]
    assert (
        type(getattr(rosetta, f"{prefix}AutoModel").from_pretrained(base_folder)).__name__
        == f"{prefix}ViTModel"
    )


def test_image_processor_feeds_every_backend(classifiers, hf_checkpoints):
    """ViTImageProcessor's tensors, in each framework's type, give transformers' logits on its own processor's."""
    from PIL import Image

    import rosetta

    _, reference = hf_checkpoints["ViTForImageClassification"]
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (48, 60, 3), dtype=np.uint8)) for _ in range(2)]
    size = {"height": 32, "width": 32}
    hf_pixels = hf_class("ViTImageProcessor")(size=size)(images, return_tensors="np")["pixel_values"]
    ours = rosetta.ViTImageProcessor(size=size)
    np.testing.assert_allclose(ours(images, return_tensors="np")["pixel_values"], hf_pixels, atol=1e-5)
    expected = run("hf", reference, {"pixel_values": hf_pixels})["logits"]
    for backend in BACKENDS:
        batch = ours(images, return_tensors=FRAMEWORKS[backend].tensor_type)
        logits = classifiers[backend](**batch).logits
        np.testing.assert_allclose(to_numpy(logits), expected, atol=TOLERANCE[backend])
