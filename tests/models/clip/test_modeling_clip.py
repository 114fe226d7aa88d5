"""CLIP in every backend and every class, against transformers and against each other."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS
from rosetta.pipelines._numpy import to_numpy
from tests.parity import (
    BACKENDS,
    TOLERANCE,
    assert_close,
    hf_class,
    require,
    rosetta_class,
    tiny_config_dict,
    tiny_inputs,
)

TINY = tiny_config_dict("clip")
PARTS = {
    "CLIPTextModel": ("text_config", ("input_ids", "attention_mask")),
    "CLIPTextModelWithProjection": ("text_config", ("input_ids", "attention_mask")),
    "CLIPVisionModel": ("vision_config", ("pixel_values",)),
    "CLIPVisionModelWithProjection": ("vision_config", ("pixel_values",)),
}
CLASSES = ["CLIPModel", *PARTS]
FLAGS = dict(output_hidden_states=True, output_attentions=True)


def flat(output, prefix: str = "") -> dict:
    """An output (towers' outputs nested) as {dotted name: numpy or tuple of numpy}."""
    result = {}
    for key, value in output.items():
        if value is None:
            continue
        if hasattr(value, "items"):
            result.update(flat(value, f"{prefix}{key}."))
        else:
            result[prefix + key] = to_numpy(value)
    return result


def call(model, inputs: dict, **kwargs) -> dict:
    """numpy in, flat numpy out, for rosetta's models and transformers' (the reference) alike."""
    if type(model).__module__.startswith("transformers."):
        import torch

        with torch.no_grad():
            return flat(model(**{k: torch.from_numpy(v) for k, v in inputs.items()}, **kwargs))
    return flat(model.numpy_call(inputs, **kwargs))


def inputs_of(name: str) -> dict:
    inputs = tiny_inputs("base", "clip")
    return inputs if name == "CLIPModel" else {k: inputs[k] for k in PARTS[name][1]}


def hf_config(name: str, **text_overrides):
    text = {**TINY["text_config"], **text_overrides}
    if name == "CLIPModel":
        return hf_class("CLIPConfig")(**{**TINY, "text_config": text}, attn_implementation="eager")
    key = PARTS[name][0]
    values = text if key == "text_config" else TINY[key]
    return hf_class(key.replace("_config", "").capitalize().join(("CLIP", "Config")))(
        **values, attn_implementation="eager"
    )


@pytest.fixture(scope="module")
def hf_checkpoints(tmp_path_factory):
    """One randomly initialised transformers model per class, saved by transformers: {name: (folder, model)}."""
    import torch

    folders = {}
    for i, name in enumerate(CLASSES):
        torch.manual_seed(i)
        model = hf_class(name)(hf_config(name)).eval()
        folder = tmp_path_factory.mktemp(name)
        model.save_pretrained(folder)
        folders[name] = (folder, model)
    return folders


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CLASSES)
def test_matches_transformers(backend, name, hf_checkpoints):
    """Every output, hidden states and attentions of both towers included, within 1e-5 (torch) / 2e-5."""
    folder, reference = hf_checkpoints[name]
    model, info = rosetta_class(backend, name).from_pretrained(folder, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    inputs = inputs_of(name)
    kwargs = {**FLAGS, "return_loss": True} if name == "CLIPModel" else FLAGS
    expected, actual = call(reference, inputs, **kwargs), call(model, inputs, **kwargs)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_pooled_at_first_eos_token(backend, tmp_path):
    """With eos_token_id != 2 the text tower pools at the first eos token (not at the largest id)."""
    import torch

    torch.manual_seed(0)
    reference = hf_class("CLIPTextModel")(hf_config("CLIPTextModel", eos_token_id=5)).eval()
    reference.save_pretrained(tmp_path)
    ids = np.array([[9, 5, 98, 5, 1], [98, 7, 5, 1, 1]], dtype=np.int64)
    inputs = {"input_ids": ids, "attention_mask": (ids != 1).astype(np.int64)}
    model = rosetta_class(backend, "CLIPTextModel").from_pretrained(tmp_path)
    expected, actual = call(reference, inputs), call(model, inputs)
    np.testing.assert_allclose(actual["pooler_output"], actual["last_hidden_state"][[0, 1], [1, 2]], atol=0)
    assert_close(actual, expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_and_image_features(backend, hf_checkpoints):
    """get_text_features / get_image_features: the towers' outputs, pooled output projected (transformers 5)."""
    import torch

    folder, reference = hf_checkpoints["CLIPModel"]
    model = rosetta_class(backend, "CLIPModel").from_pretrained(folder)
    inputs = inputs_of("CLIPModel")
    text = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        expected_text = reference.get_text_features(**{k: torch.from_numpy(v) for k, v in text.items()})
        expected_image = reference.get_image_features(torch.from_numpy(inputs["pixel_values"]))
    native = {k: model._to_native(v) for k, v in inputs.items()}
    actual_text = model.get_text_features(native["input_ids"], native["attention_mask"])
    actual_image = model.get_image_features(native["pixel_values"])
    for actual, expected in ((actual_text, expected_text), (actual_image, expected_image)):
        assert_close(
            flat(actual), flat(expected), TOLERANCE[backend], keys=["pooler_output", "last_hidden_state"]
        )


@pytest.mark.parametrize("source", BACKENDS)
def test_save_in_one_backend_loads_everywhere(source, hf_checkpoints, tmp_path):
    """A CLIPModel saved by `source` loads in the other backends and in transformers with the same logits."""
    folder, reference = hf_checkpoints["CLIPModel"]
    rosetta_class(source, "CLIPModel").from_pretrained(folder).save_pretrained(tmp_path)
    inputs = inputs_of("CLIPModel")
    expected = call(reference, inputs)
    reloaded = hf_class("CLIPModel").from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert_close(call(reloaded, inputs), expected, 0.0)
    for backend in BACKENDS:
        model, info = rosetta_class(backend, "CLIPModel").from_pretrained(tmp_path, output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
        assert_close(call(model, inputs), expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_parts_load_from_a_clip_model_folder(backend, hf_checkpoints):
    """Each tower class (with or without its projection) loads its part of a CLIPModel checkpoint and config."""
    folder, reference = hf_checkpoints["CLIPModel"]
    inputs = inputs_of("CLIPModel")
    whole = call(reference, inputs)
    expected = {  # the towers' outputs; the projections' embeddings, normalised, are CLIPModel's
        "CLIPTextModel": {"last_hidden_state": whole["text_model_output.last_hidden_state"]},
        "CLIPVisionModel": {"last_hidden_state": whole["vision_model_output.last_hidden_state"]},
        "CLIPTextModelWithProjection": {"text_embeds": whole["text_embeds"]},
        "CLIPVisionModelWithProjection": {"image_embeds": whole["image_embeds"]},
    }
    for name, wanted in expected.items():
        model, info = rosetta_class(backend, name).from_pretrained(folder, output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), (name, info)
        actual = call(model, inputs_of(name))
        for key in ("text_embeds", "image_embeds"):
            if key in actual:
                actual[key] = actual[key] / np.linalg.norm(actual[key], axis=-1, keepdims=True)
        assert_close(actual, wanted, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_classes(backend, hf_checkpoints):
    """AutoModelForZeroShotImageClassification / TF / Flax twins and AutoModel pick CLIPModel from config.json."""
    require(backend)
    import rosetta

    prefix = FRAMEWORKS[backend].class_prefix
    folder, reference = hf_checkpoints["CLIPModel"]
    for auto in ("AutoModelForZeroShotImageClassification", "AutoModel"):
        model = getattr(rosetta, prefix + auto).from_pretrained(folder)
        assert type(model).__name__ == f"{prefix}CLIPModel"
    inputs = inputs_of("CLIPModel")
    assert_close(call(model, inputs), call(reference, inputs), TOLERANCE[backend], keys=["logits_per_image"])
    assert type(rosetta.AutoConfig.from_pretrained(folder)).__name__ == "CLIPConfig"


VISION_CLASSES = ["CLIPModel", "CLIPVisionModel", "CLIPVisionModelWithProjection"]


def other_size_inputs(name: str, height: int, width: int) -> dict:
    """The tiny inputs with images of height x width (not the config's 32 x 32)."""
    pixels = np.random.default_rng(3).standard_normal((2, 3, height, width)).astype(np.float32)
    return {**inputs_of(name), "pixel_values": pixels}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", VISION_CLASSES)
@pytest.mark.parametrize("size", [(48, 48), (40, 56)])
def test_interpolate_pos_encoding(backend, name, size, hf_checkpoints):
    """Another image size: position embeddings resized as transformers' bicubic does (6x6 and 5x7 grids)."""
    folder, reference = hf_checkpoints[name]
    model = rosetta_class(backend, name).from_pretrained(folder)
    inputs = other_size_inputs(name, *size)
    kwargs = {**FLAGS, "interpolate_pos_encoding": True}
    expected, actual = call(reference, inputs, **kwargs), call(model, inputs, **kwargs)
    hidden = "vision_model_output.hidden_states" if name == "CLIPModel" else "hidden_states"
    assert actual[hidden][0].shape == (2, (size[0] // 8) * (size[1] // 8) + 1, 32)
    assert set(actual) == set(expected)
    assert_close(actual, expected, TOLERANCE[backend])


@pytest.mark.parametrize("backend", BACKENDS)
def test_image_features_interpolate_pos_encoding(backend, hf_checkpoints):
    """CLIPModel.get_image_features(..., interpolate_pos_encoding=True) as transformers' on a 40 x 56 image."""
    import torch

    folder, reference = hf_checkpoints["CLIPModel"]
    model = rosetta_class(backend, "CLIPModel").from_pretrained(folder)
    pixels = other_size_inputs("CLIPModel", 40, 56)["pixel_values"]
    with torch.no_grad():
        expected = reference.get_image_features(torch.from_numpy(pixels), interpolate_pos_encoding=True)
    actual = model.get_image_features(model._to_native(pixels), interpolate_pos_encoding=True)
    assert_close(
        flat(actual), flat(expected), TOLERANCE[backend], keys=["pooler_output", "last_hidden_state"]
    )
    with pytest.raises(InputError, match="interpolate_pos_encoding=True"):
        model.get_image_features(model._to_native(pixels))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", VISION_CLASSES)
def test_wrong_image_size_is_refused(backend, name, hf_checkpoints):
    """Without interpolate_pos_encoding an image of another size is an InputError naming the way out."""
    folder, _ = hf_checkpoints[name]
    model = rosetta_class(backend, name).from_pretrained(folder)
    with pytest.raises(InputError, match=r"\(40\*56\) doesn't match the model's \(32\*32\).*interpolate_pos"):
        call(model, other_size_inputs(name, 40, 56))


@pytest.mark.parametrize("name", ["CLIPTextModel", "CLIPTextModelWithProjection"])
def test_flax_text_towers_refuse_vision_flags(name, hf_checkpoints):
    """A Flax flag the module does not declare is refused by name, not silently ignored."""
    require("flax")
    folder, _ = hf_checkpoints[name]
    model = rosetta_class("flax", name).from_pretrained(folder)
    with pytest.raises(InputError, match="does not take interpolate_pos_encoding"):
        model(**inputs_of(name), interpolate_pos_encoding=True)
