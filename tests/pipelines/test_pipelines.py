"""Pipelines give the same answers in every framework, and the answers transformers' pipelines give."""

from __future__ import annotations

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.assets import minilm
from tests.parity import hf_class, require, tiny_config_dict

TEXTS = ["The capital of France is [MASK].", "A man is eating [MASK] in the park."]
FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())  # the spellings users pass: "pt", "tf", "jax"
BACKEND = {spelling: framework_key(spelling) for spelling in FRAMEWORKS}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny random transformers models over the real MiniLM vocabulary, each saved with its tokenizer."""
    import torch

    tokenizer = hf_class("AutoTokenizer").from_pretrained(minilm())
    folders = {}
    for i, head in enumerate(
        ("BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification")
    ):
        torch.manual_seed(i)
        config = hf_class("BertConfig")(
            **tiny_config_dict(vocab_size=30522, max_position_embeddings=512),
            num_labels=3,
            id2label={0: "neg", 1: "neu", 2: "pos"},
            label2id={"neg": 0, "neu": 1, "pos": 2},
        )
        folder = tmp_path_factory.mktemp(head)
        hf_class(head)(config).eval().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[head] = folder
    return folders


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fill_mask_matches_transformers(framework, checkpoints):
    require(BACKEND[framework])
    import transformers

    from rosetta import pipeline

    ours = pipeline("fill-mask", model=str(checkpoints["BertForMaskedLM"]), framework=framework)(
        TEXTS, top_k=3
    )
    theirs = transformers.pipeline("fill-mask", model=str(checkpoints["BertForMaskedLM"]))(TEXTS, top_k=3)
    for mine, ref in zip(ours, theirs):
        assert [m["token"] for m in mine] == [r["token"] for r in ref]
        assert [m["sequence"] for m in mine] == [r["sequence"] for r in ref]
        np.testing.assert_allclose([m["score"] for m in mine], [r["score"] for r in ref], atol=1e-5)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_text_classification_matches_transformers(framework, checkpoints):
    require(BACKEND[framework])
    import transformers

    from rosetta import pipeline

    texts = ["I loved it.", "Terrible, a waste of time and money."]
    ours = pipeline(
        "text-classification", model=str(checkpoints["BertForSequenceClassification"]), framework=framework
    )(texts, top_k=None)
    theirs = transformers.pipeline(
        "text-classification", model=str(checkpoints["BertForSequenceClassification"])
    )(texts, top_k=None)
    for mine, ref in zip(ours, theirs):
        assert [m["label"] for m in mine] == [r["label"] for r in ref]
        np.testing.assert_allclose([m["score"] for m in mine], [r["score"] for r in ref], atol=1e-5)


def test_token_classification_and_features_agree_across_frameworks(checkpoints):
    from rosetta import pipeline

    text = "The man runs in Paris and Berlin"
    tagged = {
        f: pipeline("ner", model=str(checkpoints["BertForTokenClassification"]), framework=f)(text)
        for f in FRAMEWORKS
    }
    assert [e["word"] for e in tagged["pt"]] == ["the", "man", "runs", "in", "paris", "and", "berlin"]
    assert text[tagged["pt"][4]["start"] : tagged["pt"][4]["end"]] == "Paris"
    for f in FRAMEWORKS[1:]:
        assert [e["entity"] for e in tagged[f]] == [e["entity"] for e in tagged["pt"]]
        np.testing.assert_allclose(
            [e["score"] for e in tagged[f]], [e["score"] for e in tagged["pt"]], atol=1e-5
        )
    features = {
        f: np.array(
            pipeline("feature-extraction", model=str(checkpoints["BertForMaskedLM"]), framework=f)(text)
        )
        for f in FRAMEWORKS
    }
    assert features["pt"].shape == (1, 9, 32)  # [1][tokens][hidden] per text, as transformers
    for f in FRAMEWORKS[1:]:
        np.testing.assert_allclose(features[f], features["pt"], atol=2e-5)


def test_framework_follows_the_model_object(checkpoints):
    import rosetta
    from rosetta import pipeline

    folder = checkpoints["BertForSequenceClassification"]
    model = rosetta.FlaxBertForSequenceClassification.from_pretrained(folder)
    classify = pipeline("sentiment-analysis", model=model, tokenizer=str(folder))
    assert classify.framework == "flax" and classify("fine")["label"] in {"neg", "neu", "pos"}
    with pytest.raises(InputError, match="framework='pt'"):
        pipeline("sentiment-analysis", model=model, tokenizer=str(folder), framework="pt")


def test_bad_input_is_a_clear_error(checkpoints):
    from rosetta import pipeline

    with pytest.raises(InputError, match="Unknown task 'translation'"):
        pipeline("translation", model=str(checkpoints["BertForMaskedLM"]))
    fill = pipeline("fill-mask", model=str(checkpoints["BertForMaskedLM"]))
    with pytest.raises(InputError, match=r"exactly one \[MASK\]"):
        fill("no mask here")
    with pytest.raises(InputError, match="non-empty list of strings"):
        fill([])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_device_the_framework_cannot_use_is_a_clear_error(framework, checkpoints):
    require(BACKEND[framework])
    from rosetta import pipeline

    folder = str(checkpoints["BertForSequenceClassification"])
    with pytest.raises(InputError, match="banana"):
        pipeline("text-classification", model=folder, framework=framework, device="banana")
    with pytest.raises(InputError, match="device"):
        pipeline("text-classification", model=folder, framework=framework, device=object())
    cpu = pipeline("text-classification", model=folder, framework=framework, device="cpu")
    minus_one = pipeline("text-classification", model=folder, framework=framework, device=-1)
    assert (
        cpu("fine")
        == minus_one("fine")
        == pipeline("text-classification", model=folder, framework=framework)("fine")
    )


def test_tf_and_flax_pipelines_refuse_a_gpu_device(checkpoints):
    from rosetta import pipeline

    folder = str(checkpoints["BertForSequenceClassification"])
    for framework in FRAMEWORKS[1:]:
        require(BACKEND[framework])
        with pytest.raises(InputError, match="framework='pt'"):
            pipeline("text-classification", model=folder, framework=framework, device="cuda:0")


def test_torch_device_is_honoured(checkpoints):
    torch = pytest.importorskip("torch")
    from rosetta import pipeline

    folder = str(checkpoints["BertForSequenceClassification"])
    on_cpu = pipeline("text-classification", model=folder, framework="pt", device=torch.device("cpu"))
    assert next(on_cpu.model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        for device in ("cuda:0", 0):
            with pytest.raises(InputError, match="CUDA"):
                pipeline("text-classification", model=folder, framework="pt", device=device)
        return
    on_gpu = pipeline("text-classification", model=folder, framework="pt", device="cuda:0")
    assert next(on_gpu.model.parameters()).device == torch.device("cuda:0")
    scores = [on_gpu("fine")["score"], on_cpu("fine")["score"]]
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-4)
    with pytest.raises(InputError, match="CUDA device"):
        pipeline("text-classification", model=folder, framework="pt", device=torch.cuda.device_count())


def test_framework_spellings_come_from_the_one_table(checkpoints):
    from rosetta import pipeline

    folder = str(checkpoints["BertForSequenceClassification"])
    for spelling in ("pt", "torch", "PyTorch"):
        require("torch")
        assert pipeline("text-classification", model=folder, framework=spelling).framework == "torch"
    with pytest.raises(InputError, match="framework must be one of"):
        pipeline("text-classification", model=folder, framework="mxnet")
