"""batch_size= over lists, generators and datasets: the same answers as one input at a time, in input order,
in every framework; memory bounded by one window; a progress bar on request; bad batch sizes refused."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import hf_class, require, tiny_config_dict

FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())
TEXTS = [
    "Paris is in France.",
    "A very much longer sentence about Berlin, Germany and the river that runs through it all year.",
    "Hi",
    "John Smith went to London last week with Mary.",
    "Short one here.",
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France.",
    "Ok",
]


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory):
    import torch

    from tests.assets import minilm

    folder = tmp_path_factory.mktemp("mlm")
    torch.manual_seed(11)
    config = hf_class("BertConfig")(**tiny_config_dict(vocab_size=30522, max_position_embeddings=512))
    hf_class("BertForMaskedLM")(config).eval().save_pretrained(folder)
    hf_class("AutoTokenizer").from_pretrained(minilm()).save_pretrained(folder)
    return folder


def assert_same(batched, single, atol=1e-5):
    """Equal structure, labels, words and offsets; floats within atol."""
    if isinstance(single, dict):
        assert batched.keys() == single.keys()
        for key in single:
            assert_same(batched[key], single[key], atol)
    elif isinstance(single, (list, tuple)):
        assert len(batched) == len(single)
        for b, s in zip(batched, single):
            assert_same(b, s, atol)
    elif isinstance(single, (float, np.floating)):
        assert abs(batched - single) <= atol
    else:
        assert batched == single


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_text_tasks_batched_equal_one_at_a_time(framework, nli_folder, ner_folder, mlm_folder):
    """text-classification, token-classification, fill-mask and feature-extraction over texts of very different
    lengths: batch_size=3 (sorted by length, padded) gives what batch_size=1 gives, in input order, and the
    answers agree with transformers' pipeline."""
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    masked = [t.replace("is", "[MASK]", 1) if "is" in t else t + " [MASK]" for t in TEXTS]
    cases = [
        ("text-classification", nli_folder, TEXTS, {"top_k": None}),
        ("token-classification", ner_folder, TEXTS, {"aggregation_strategy": "simple"}),
        ("fill-mask", mlm_folder, masked, {"top_k": 3}),
        ("feature-extraction", nli_folder, TEXTS[:4], {}),
    ]
    for task, folder, texts, kwargs in cases:
        ours = pipeline(task, model=str(folder), framework=framework)
        single = ours(texts, **kwargs)
        assert_same(ours(texts, batch_size=3, **kwargs), single)
        # batch_size= at construction, on the same model object (its compiled programs are reused)
        assert_same(
            pipeline(task, model=ours.model, tokenizer=ours.tokenizer, batch_size=4)(texts, **kwargs), single
        )
        assert_same(single, transformers_answer(transformers, task, folder, texts, kwargs), atol=1e-4)


_TRANSFORMERS_ANSWERS: dict[tuple, object] = {}


def transformers_answer(transformers, task, folder, texts, kwargs):
    """transformers' pipeline answer (its batches keep padding), computed once per module for all frameworks."""
    key = (task, str(folder), tuple(texts), repr(sorted(kwargs.items())))
    if key not in _TRANSFORMERS_ANSWERS:
        _TRANSFORMERS_ANSWERS[key] = transformers.pipeline(task, model=str(folder))(texts, **kwargs)
    return _TRANSFORMERS_ANSWERS[key]


def test_generators_and_datasets_stream_answers_in_order(nli_folder):
    """A generator gives a generator (lazy: an endless input still answers), a datasets.Dataset column and a
    transformers KeyDataset give the list's answers in order; a window bounds how far the input is read."""
    import datasets
    from transformers.pipelines.pt_utils import KeyDataset as HFKeyDataset

    from rosetta import pipeline
    from rosetta.pipelines import KeyDataset
    from rosetta.pipelines._base import WINDOW

    classify = pipeline("text-classification", model=str(nli_folder))
    expected = classify(TEXTS)
    streamed = classify(t for t in TEXTS)
    assert not isinstance(streamed, list)
    assert_same(list(streamed), expected)
    assert_same(list(classify(iter(TEXTS), batch_size=2)), expected)

    table = datasets.Dataset.from_dict({"text": TEXTS})
    assert_same(list(classify(KeyDataset(table, "text"), batch_size=3)), expected)
    assert_same(list(classify(HFKeyDataset(table, "text"), batch_size=3)), expected)

    read = []

    def endless():
        for i in itertools.count():
            read.append(i)
            yield TEXTS[i % len(TEXTS)]

    answers = classify(endless(), batch_size=2)
    assert_same([next(answers) for _ in range(3)], expected[:3])
    assert len(read) == WINDOW * 2  # one window read, not the endless input
    one_by_one = classify(endless(), batch_size=1)
    read.clear()
    next(one_by_one)
    assert len(read) == 1


def record_input_shapes(pipe, monkeypatch) -> list[tuple[int, ...]]:
    """The list that the shape of every batch's input_ids reaching `pipe`'s model is appended to."""
    shapes = []
    forward = pipe._forward

    def spy(batch, **kwargs):
        shapes.append(batch["input_ids"].shape)
        return forward(batch, **kwargs)

    monkeypatch.setattr(pipe, "_forward", spy)
    return shapes


def test_sorting_by_length_keeps_padding_small(nli_folder, monkeypatch):
    """Rows are sorted by length within the window: each batch pads to its own longest text, not the window's."""
    from rosetta import pipeline

    classify = pipeline("text-classification", model=str(nli_folder))
    widths = record_input_shapes(classify, monkeypatch)
    texts = ["word " * n for n in (30, 1, 29, 2, 28, 3)]
    classify(texts, batch_size=2)
    lengths = sorted(len(classify.tokenizer(t)["input_ids"]) for t in texts)
    assert widths == [(2, lengths[1]), (2, lengths[3]), (2, lengths[5])]


def test_flax_text_batches_pad_to_a_few_shapes_with_the_same_answers(nli_folder, monkeypatch):
    """Flax compiles once per input shape: its text batches are padded on to multiples of 16 tokens (never
    past the model's limit), so texts of 12 lengths reach the model in 2 shapes, with torch's answers."""
    require("flax")
    from rosetta import pipeline
    from rosetta.pipelines._base import SEQUENCE_BUCKET

    classify = pipeline("text-classification", model=str(nli_folder), framework="flax")
    shapes = record_input_shapes(classify, monkeypatch)
    texts = ["word " * n for n in range(1, 25, 2)]
    lengths = {len(classify.tokenizer(t)["input_ids"]) for t in texts}
    assert len(lengths) == 12 and max(lengths) <= 2 * SEQUENCE_BUCKET
    answers = classify(texts, top_k=None)
    assert len(shapes) == 12 and {s[1] for s in shapes} == {SEQUENCE_BUCKET, 2 * SEQUENCE_BUCKET}
    if importlib.util.find_spec("torch"):
        expected = pipeline("text-classification", model=str(nli_folder), framework="pt")(texts, top_k=None)
        assert_same(answers, expected, atol=1e-4)
    classify.tokenizer.model_max_length = 40  # a limit that is no multiple of 16: padding stops at it
    classify(["word " * 35, "word " * 100])  # 37 tokens, and 102 truncated to 40
    assert [s[1] for s in shapes[-2:]] == [40, 40]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_audio_tasks_batched_equal_one_at_a_time(framework, ctc_model_folder, audio_classifier_folder):
    """Clips of different lengths: models without an attention mask batch only equal lengths, so batch_size=3
    gives exactly batch_size=1's answers."""
    require(framework_key(framework))
    from rosetta import pipeline

    rng = np.random.default_rng(3)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.3 for n in (4000, 2500, 4000, 6000, 2500, 4000)]
    recognise = pipeline("automatic-speech-recognition", model=str(ctc_model_folder), framework=framework)
    assert_same(recognise(clips, batch_size=3), recognise(clips))
    classify = pipeline("audio-classification", model=str(audio_classifier_folder), framework=framework)
    assert_same(classify(clips, batch_size=3, top_k=2), classify(clips, top_k=2))


def test_progress_bar_is_off_by_default_and_on_by_keyword(nli_folder, capsys):
    from rosetta import pipeline

    classify = pipeline("text-classification", model=str(nli_folder))
    classify(TEXTS, batch_size=2)
    assert capsys.readouterr().err == ""
    classify(TEXTS, batch_size=2, progress_bar=True)
    err = capsys.readouterr().err
    assert f"{len(TEXTS)}/{len(TEXTS)}" in err


def test_bad_batch_sizes_and_keywords_are_refused_by_name(nli_folder, audio_classifier_folder, waveforms):
    from rosetta import pipeline

    classify = pipeline("text-classification", model=str(nli_folder))
    for bad in (0, -2, 1.5, True, "4"):
        with pytest.raises(InputError, match="batch_size must be a positive int"):
            classify(TEXTS, batch_size=bad)
        with pytest.raises(InputError, match="batch_size must be a positive int"):
            pipeline("text-classification", model=str(nli_folder), batch_size=bad)
    with pytest.raises(InputError, match="progress_bar must be True or False"):
        classify(TEXTS, progress_bar="yes")
    with pytest.raises(InputError, match="non-empty list of strings"):
        list(classify(iter(["fine", ""])))
    audio = pipeline("audio-classification", model=str(audio_classifier_folder))
    with pytest.raises(InputError, match=r"unknown keyword\(s\) \['topk'\]"):
        audio(waveforms[0], topk=2)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_label_and_generation_tasks_batched_equal_one_at_a_time(
    framework, nli_folder, vit_folder, clip_model_folder, gpt2_lm_folder, images
):
    """zero-shot-classification (one row per label), image-classification, zero-shot-image-classification
    (the label prompts run beside every batch) and text-generation (left-padded prompts) give with
    batch_size=3 what they give one at a time."""
    require(framework_key(framework))
    from rosetta import pipeline

    prompts = ["Hello, my dog is", "Hi", "The weather in Paris is nice and warm today", "Ok then"]
    chat = [{"role": "user", "content": "Hi there"}]
    cases = [
        (
            "zero-shot-classification",
            nli_folder,
            TEXTS[:5],
            {"candidate_labels": ["city", "person", "river"]},
        ),
        (
            "zero-shot-classification",
            nli_folder,
            TEXTS[:3],
            {"candidate_labels": "city, river", "multi_label": True},
        ),
        ("image-classification", vit_folder, list(images), {"top_k": 2}),
        (
            "zero-shot-image-classification",
            clip_model_folder,
            list(images),
            {"candidate_labels": ["a cat", "a dog"]},
        ),
        ("text-generation", gpt2_lm_folder, prompts + [chat], {"max_new_tokens": 5, "do_sample": False}),
        (
            "text-generation",
            gpt2_lm_folder,
            prompts[:3],
            {
                "max_new_tokens": 3,
                "do_sample": False,
                "return_tensors": True,
                "num_return_sequences": 2,
                "num_beams": 2,
            },
        ),
    ]
    for task, folder, inputs, kwargs in cases:
        ours = pipeline(task, model=str(folder), framework=framework)
        single = [ours(item, **kwargs) for item in inputs]
        assert_same(ours(inputs, **kwargs), single, atol=1e-4)
        assert_same(ours(inputs, batch_size=3, **kwargs), single, atol=1e-4)
