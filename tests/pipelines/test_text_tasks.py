"""Token classification and text generation against transformers' pipelines on the same folder."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import require

FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())
SENTENCE = "Angela Merkel met Emmanuel Macron in Neuschwanstein near Schwangau yesterday."
PROMPTS = ["Hello, my dog is", "The weather in Paris"]


def assert_same_entities(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs):
        assert set(mine) == set(ref)
        assert {k: v for k, v in mine.items() if k != "score"} == {
            k: (int(v) if isinstance(v, np.integer) else v) for k, v in ref.items() if k != "score"
        }
        np.testing.assert_allclose(mine["score"], float(ref["score"]), atol=1e-4)


@pytest.fixture(scope="module")
def hf_ner(ner_folder):
    import transformers

    return transformers.pipeline("token-classification", model=str(ner_folder))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_token_classification_matches_transformers_for_every_strategy(framework, ner_folder, hf_ner):
    require(framework_key(framework))
    from rosetta import pipeline

    ours = pipeline("ner", model=str(ner_folder), framework=framework)
    for strategy in ("none", "simple", "first", "average", "max"):
        assert_same_entities(
            ours(SENTENCE, aggregation_strategy=strategy), hf_ner(SENTENCE, aggregation_strategy=strategy)
        )
    for ignore in (["O", "B-PER"], ["I-LOC"]):
        for strategy in ("none", "average"):
            assert_same_entities(
                ours(SENTENCE, aggregation_strategy=strategy, ignore_labels=ignore),
                hf_ner(SENTENCE, aggregation_strategy=strategy, ignore_labels=ignore),
            )
    kept = ours(SENTENCE, aggregation_strategy="simple", ignore_labels=[])
    assert_same_entities(kept, hf_ner(SENTENCE, aggregation_strategy="simple", ignore_labels=[]))
    assert all(
        SENTENCE[e["start"] : e["end"]].lower() == e["word"].replace(" ##", "")
        for e in kept
        if "#" not in e["word"]
    )
    batch = ours([SENTENCE, "Berlin"], aggregation_strategy="simple")
    assert_same_entities(batch[1], hf_ner("Berlin", aggregation_strategy="simple"))


@pytest.fixture(scope="module")
def short_ner_folder(ner_folder, tmp_path_factory):
    """The NER folder with model_max_length 16, so a sentence needs several windows."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("ner-short")
    for path in ner_folder.iterdir():
        shutil.copy(path, folder / path.name)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 16}))
    return folder


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_token_classification_with_stride_matches_transformers(framework, short_ner_folder):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("ner", model=str(short_ner_folder), framework=framework)
    theirs = transformers.pipeline("token-classification", model=str(short_ner_folder))
    long_text = f"{SENTENCE} Then Olaf Scholz flew from Hamburg to Lisbon with Ursula von der Leyen."
    assert len(ours.preprocess(long_text, stride=4)) > 3  # really read in overlapping windows
    for strategy in ("simple", "first", "average", "max"):
        for kwargs in ({"stride": 4}, {"stride": 6, "ignore_labels": []}):
            assert_same_entities(
                ours(long_text, aggregation_strategy=strategy, **kwargs),
                theirs(long_text, aggregation_strategy=strategy, **kwargs),
            )
    texts = [long_text, "Berlin", SENTENCE]
    batched = ours(texts, aggregation_strategy="first", stride=5, batch_size=4)
    for mine, text in zip(batched, texts):
        assert_same_entities(mine, theirs(text, aggregation_strategy="first", stride=5))


def test_token_classification_keyword_errors_are_clear(short_ner_folder):
    from rosetta import pipeline

    ner = pipeline("ner", model=str(short_ner_folder))
    with pytest.raises(InputError, match='aggregation_strategy other than "none"'):
        ner(SENTENCE, stride=4)
    with pytest.raises(InputError, match="must be less than the tokenizer's model_max_length"):
        ner(SENTENCE, stride=16, aggregation_strategy="simple")
    with pytest.raises(InputError, match="stride must be a non-negative integer"):
        ner(SENTENCE, stride=-1, aggregation_strategy="simple")
    with pytest.raises(InputError, match="ignore_labels must be a list"):
        ner(SENTENCE, ignore_labels="O")
    with pytest.raises(InputError, match=r"unknown keyword\(s\) \['grouped_entities'\]"):
        ner(SENTENCE, grouped_entities=True)


def test_token_classification_rejects_an_unknown_strategy(ner_folder):
    from rosetta import pipeline

    with pytest.raises(InputError, match="aggregation_strategy must be one of"):
        pipeline("ner", model=str(ner_folder))(SENTENCE, aggregation_strategy="longest")


@pytest.fixture(scope="module")
def hf_generator(gpt2_lm_folder):
    import transformers

    return transformers.pipeline("text-generation", model=str(gpt2_lm_folder))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_text_generation_matches_transformers(framework, gpt2_lm_folder, hf_generator):
    require(framework_key(framework))
    from rosetta import pipeline

    generate = pipeline("text-generation", model=str(gpt2_lm_folder), framework=framework)
    cases = [
        (PROMPTS[0], {"max_new_tokens": 6, "do_sample": False}),
        (PROMPTS, {"max_new_tokens": 5, "do_sample": False, "return_full_text": False}),
        (PROMPTS[1], {"max_new_tokens": 4, "num_beams": 2, "num_return_sequences": 2, "do_sample": False}),
        ([{"role": "user", "content": "Hi there"}], {"max_new_tokens": 4, "do_sample": False}),
        (
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
            {"max_new_tokens": 3, "do_sample": False},
        ),
        (PROMPTS[0], {"max_new_tokens": 3, "do_sample": False, "return_tensors": True}),
    ]
    for prompt, kwargs in cases:
        assert generate(prompt, **kwargs) == hf_generator(prompt, **kwargs), (prompt, kwargs)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_text_generation_streams_what_it_returns(framework, gpt2_lm_folder):
    """A streamer passed to the pipeline receives the new text piece by piece, the same text the call returns."""
    require(framework_key(framework))
    import threading

    from rosetta import TextIteratorStreamer, pipeline

    generate = pipeline("text-generation", model=str(gpt2_lm_folder), framework=framework)
    streamer = TextIteratorStreamer(generate.tokenizer, skip_prompt=True, skip_special_tokens=True)
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(
            answer=generate(
                PROMPTS[0], max_new_tokens=8, do_sample=False, return_full_text=False, streamer=streamer
            )
        )
    )
    worker.start()
    pieces = list(streamer)
    worker.join()
    assert len(pieces) >= 1
    assert "".join(pieces) == result["answer"][0]["generated_text"]


def test_text_generation_refuses_an_unknown_generation_argument(gpt2_lm_folder):
    from rosetta import pipeline

    generate = pipeline("text-generation", model=str(gpt2_lm_folder))
    with pytest.raises(InputError, match="max_new_tokenz"):
        generate(PROMPTS[0], max_new_tokenz=3)


def test_text_generation_bad_prompt_is_a_clear_error(gpt2_lm_folder):
    from rosetta import pipeline

    generate = pipeline("text-generation", model=str(gpt2_lm_folder))
    for bad in ("", [], 42, [{"role": "user", "content": "hi"}, 3]):
        with pytest.raises(InputError, match="text-generation takes"):
            generate(bad, max_new_tokens=2)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_zero_shot_classification_matches_transformers(framework, nli_folder):
    require(framework_key(framework))
    import transformers

    from rosetta import pipeline

    ours = pipeline("zero-shot-classification", model=str(nli_folder), framework=framework)
    theirs = transformers.pipeline("zero-shot-classification", model=str(nli_folder))
    texts = ["One day I will see the world.", "The match ended in a draw after extra time."]
    cases = [
        {"candidate_labels": ["travel", "cooking", "dancing", "sports"]},
        {"candidate_labels": "travel, sports", "multi_label": True},
        {"candidate_labels": ["travel"]},
        {"candidate_labels": ["travel", "sports"], "hypothesis_template": "The topic is {}"},
    ]
    for kwargs in cases:
        for mine, ref in zip(ours(texts, **kwargs), theirs(texts, **kwargs)):
            assert mine["sequence"] == ref["sequence"] and mine["labels"] == ref["labels"], kwargs
            np.testing.assert_allclose(mine["scores"], ref["scores"], atol=1e-4)


def test_zero_shot_classification_bad_labels_are_clear_errors(nli_folder):
    from rosetta import pipeline

    classify = pipeline("zero-shot-classification", model=str(nli_folder))
    with pytest.raises(InputError, match="candidate_labels"):
        classify("text", candidate_labels=[])
    with pytest.raises(InputError, match="has no"):
        classify("text", candidate_labels=["a"], hypothesis_template="no slot")
    with pytest.raises(InputError, match="non-empty string"):
        classify("", candidate_labels=["a"])


@pytest.mark.parametrize(
    ("alias", "task"), [("sentiment-analysis", "text-classification"), ("ner", "token-classification")]
)
def test_task_aliases_give_the_task_pipeline(alias, task, nli_folder, ner_folder):
    from rosetta import pipeline
    from rosetta.pipelines import TASKS

    folder = nli_folder if task == "text-classification" else ner_folder
    assert type(pipeline(alias, model=str(folder))) is TASKS[task]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_text_generation_samples_by_default_as_transformers_5_does(
    framework, gpt2_lm_folder, hf_generator, monkeypatch
):
    """transformers 5's pipeline samples at temperature 0.7 unless the call or the model's generation config
    says otherwise; the same do_sample and temperature reach `generate` on both sides."""
    require(framework_key(framework))
    from rosetta import pipeline

    ours = pipeline("text-generation", model=str(gpt2_lm_folder), framework=framework)
    seen = {}
    for side, pipe in (("ours", ours), ("theirs", hf_generator)):
        original = pipe.model.generate

        def spy(*args, _side=side, _original=original, **kwargs):
            seen[_side] = {key: kwargs.get(key) for key in ("do_sample", "temperature")}
            return _original(*args, **kwargs)

        monkeypatch.setattr(pipe.model, "generate", spy)
    cases = [
        {},
        {"do_sample": False},
        {"do_sample": True},
        {"temperature": 0.5},
        {"do_sample": True, "top_k": 3},
    ]
    for kwargs in cases:
        seen.clear()
        answer = ours(PROMPTS[0], max_new_tokens=3, **kwargs)
        hf_generator(PROMPTS[0], max_new_tokens=3, **kwargs)
        assert seen["ours"] == seen["theirs"], kwargs
        assert isinstance(answer[0]["generated_text"], str)
    assert seen["ours"] == {"do_sample": True, "temperature": 0.7}
