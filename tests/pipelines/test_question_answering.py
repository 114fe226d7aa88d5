"""`question-answering` in every framework: against transformers 5's QA logits on the same weights with a
brute-force span search written here, and against transformers 4.46's own pipeline (5 removed it).

transformers 4.46 cannot be installed beside transformers 5, so its answers on the two seeded folders are kept in
data/qa_transformers_446.json, written by that pipeline. Where the side environment of benchmarks/setup_peers.sh
exists, the test asks 4.46 again and requires the same answers as the file (or rewrites the file with
ROSETTA_RECORD_446=1); everywhere, ours must equal the file."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rosetta.core.errors import InputError
from rosetta.core.frameworks import FRAMEWORKS as TABLE
from rosetta.core.frameworks import framework_key
from tests.parity import hf_class, require, tiny_config_dict
from tests.xla_flags import without_test_xla_flags

FRAMEWORKS = tuple(fw.tensor_type for fw in TABLE.values())
CONTEXT = "Angela Merkel met Emmanuel Macron in Neuschwanstein near Schwangau yesterday."
LONG = " ".join(f"The castle number {i} stands in town{i} beside the river Isar." for i in range(12))
CASES = [  # (question, context, pipeline keywords)
    ("Who met Macron?", CONTEXT, {}),
    ("Where did they meet?", CONTEXT, {"top_k": 3}),
    ("Which castle?", LONG, {"max_seq_len": 48, "doc_stride": 16, "top_k": 4}),
    ("Which town?", LONG, {"max_seq_len": 40, "doc_stride": 8, "max_answer_len": 3, "align_to_words": False}),
    ("Which town?", LONG, {"max_seq_len": 64, "handle_impossible_answer": True, "top_k": 2}),
]
ROOT = Path(__file__).resolve().parents[2]
HF446 = [os.environ.get("ROSETTA_HF446_PYTHON", ""), str(ROOT / ".bench-envs" / "tf446" / "bin" / "python")]
RUN_446 = """
import json, sys
import transformers
results = []
for folder, cases in json.loads(sys.stdin.read()):
    qa = transformers.pipeline("question-answering", model=folder, tokenizer=folder, framework="pt")
    results.append([qa(question=q, context=c, **kw) for q, c, kw in cases])
print(json.dumps(results))
"""


def _save(folder: Path, seed: int, null_first: bool = False) -> Path:
    """A tiny BERT QA model over MiniLM's vocabulary; its QA head sharpened so spans differ in score, or
    (null_first) pointed at the CLS token's final hidden state so the empty answer wins."""
    import torch

    from tests.assets import minilm

    torch.manual_seed(seed)
    config = hf_class("BertConfig")(**tiny_config_dict(vocab_size=30522, max_position_embeddings=512))
    model = hf_class("BertForQuestionAnswering")(config).eval()
    tokenizer = hf_class("AutoTokenizer").from_pretrained(minilm())
    with torch.no_grad():
        if null_first:
            hidden = model.bert(**tokenizer("Which town?", LONG, return_tensors="pt")).last_hidden_state[0]
            direction = hidden[0] - hidden[1:].mean(0)
            model.qa_outputs.weight.copy_(torch.stack([direction, direction]) * 0.1)
        else:
            model.qa_outputs.weight.mul_(40.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def qa_folder(tmp_path_factory):
    return _save(tmp_path_factory.mktemp("qa"), seed=2)


@pytest.fixture(scope="module")
def null_folder(tmp_path_factory):
    return _save(tmp_path_factory.mktemp("qa-null"), seed=3, null_first=True)


@functools.cache
def _transformers_qa(folder: Path):
    model = hf_class("BertForQuestionAnswering").from_pretrained(folder).eval()
    return hf_class("AutoTokenizer").from_pretrained(folder), model


def brute_force(folder: Path, question: str, context: str, **kw) -> dict | list[dict]:
    """Every (start, end) of context tokens in every window, end - start < max_answer_len, scored by
    transformers 5's logits as 4.46 scores them: softmax over the context tokens and CLS, start x end."""
    import torch

    tokenizer, model = _transformers_qa(folder)
    max_seq_len = kw.get("max_seq_len", 384)
    max_answer_len, top_k = kw.get("max_answer_len", 15), kw.get("top_k", 1)
    encoded = tokenizer(
        question,
        context,
        truncation="only_second",
        max_length=max_seq_len,
        stride=kw.get("doc_stride", min(max_seq_len // 2, 128)),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    answers, null = [], 1.0
    for span, ids in enumerate(encoded["input_ids"]):
        inputs = {
            k: torch.tensor([encoded[k][span]]) for k in ("input_ids", "attention_mask", "token_type_ids")
        }
        with torch.no_grad():
            out = model(**inputs)
        in_context = np.array([s == 1 for s in encoded.sequence_ids(span)])
        allowed = in_context | (np.array(ids) == tokenizer.cls_token_id)

        def probs(logits, allowed=allowed):
            x = np.where(allowed, logits[0].numpy().astype(np.float64), -np.inf)
            return np.exp(x - x.max()) / np.exp(x - x.max()).sum()

        p_start, p_end = probs(out.start_logits), probs(out.end_logits)
        null = min(null, p_start[0] * p_end[0])
        for s in np.flatnonzero(in_context):
            for e in range(s, min(s + max_answer_len, len(ids))):
                if not in_context[e]:
                    continue
                if kw.get("align_to_words", True):
                    first = encoded.word_to_chars(span, encoded.token_to_word(span, s), sequence_index=1)[0]
                    last = encoded.word_to_chars(span, encoded.token_to_word(span, e), sequence_index=1)[1]
                else:
                    first, last = encoded["offset_mapping"][span][s][0], encoded["offset_mapping"][span][e][1]
                answers.append(
                    {
                        "score": p_start[s] * p_end[e],
                        "start": first,
                        "end": last,
                        "answer": context[first:last],
                    }
                )
    if kw.get("handle_impossible_answer"):
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    ranked = sorted(answers, key=lambda a: -a["score"])[:top_k]
    return ranked[0] if len(ranked) == 1 else ranked


def assert_same_answers(ours, theirs) -> None:
    ours, theirs = (x if isinstance(x, list) else [x] for x in (ours, theirs))
    assert [{k: v for k, v in a.items() if k != "score"} for a in ours] == [
        {k: v for k, v in a.items() if k != "score"} for a in theirs
    ]
    assert all(set(a) == {"score", "start", "end", "answer"} for a in ours)
    np.testing.assert_allclose([a["score"] for a in ours], [a["score"] for a in theirs], atol=1e-4)


@pytest.fixture(scope="module")
def references(qa_folder):
    return [brute_force(qa_folder, question, context, **kw) for question, context, kw in CASES]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_question_answering_matches_a_brute_force_search_over_transformers_logits(
    framework, qa_folder, references
):
    require(framework_key(framework))
    from rosetta import pipeline

    qa = pipeline("question-answering", model=str(qa_folder), framework=framework)
    for (question, context, kw), reference in zip(CASES, references):
        assert_same_answers(qa(question=question, context=context, **kw), reference)
    windows = qa.preprocess({"question": "Which castle?", "context": LONG}, max_seq_len=48, doc_stride=16)
    assert len(windows) > 3  # the long context really was cut into overlapping windows
    questions = [question for question, _, _ in CASES]
    contexts = [context for _, context, _ in CASES]
    batched = qa(question=questions, context=contexts, batch_size=3, max_seq_len=48, doc_stride=16, top_k=2)
    for answer, question, context in zip(batched, questions, contexts):
        reference = qa(question=question, context=context, max_seq_len=48, doc_stride=16, top_k=2)
        assert_same_answers(answer, reference)  # windows of several examples padded into one batch


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_impossible_answer_wins_when_cls_scores_highest(framework, null_folder):
    require(framework_key(framework))
    from rosetta import pipeline

    qa = pipeline("question-answering", model=str(null_folder), framework=framework)
    kw = {"handle_impossible_answer": True, "top_k": 3, "max_seq_len": 64}
    ours = qa(question="Which town?", context=LONG, **kw)
    assert ours[0]["answer"] == "" and (ours[0]["start"], ours[0]["end"]) == (0, 0)
    assert_same_answers(ours, brute_force(null_folder, "Which town?", LONG, **kw))
    assert qa(question="Which town?", context=LONG, max_seq_len=64)["answer"] != ""


def test_every_input_form_transformers_takes_gives_the_same_answer(qa_folder):
    from rosetta import pipeline

    qa = pipeline("question-answering", model=str(qa_folder))
    one = qa(question="Who met Macron?", context=CONTEXT)

    class SquadExample:  # the attributes transformers' SquadExample carries
        question_text, context_text = "Who met Macron?", CONTEXT

    item = {"question": "Who met Macron?", "context": CONTEXT}
    assert qa(item) == qa([item]) == qa("Who met Macron?", CONTEXT) == qa(SquadExample()) == one
    two = qa(question=["Who met Macron?", "When?"], context=CONTEXT)
    assert two == qa([item, {"question": "When?", "context": CONTEXT}])
    assert two == qa(question=["Who met Macron?", "When?"], context=[CONTEXT, CONTEXT])
    assert two[0] == one and len(two) == 2
    streamed = qa(item for item in [item, {"question": "When?", "context": CONTEXT}])
    assert not isinstance(streamed, list) and list(streamed) == two  # a generator in, a generator out
    long_question = "Who " + "really " * 100 + "met Macron?"
    cut = "Who " + "really " * 63
    assert qa(question=long_question, context=CONTEXT) == qa(question=cut.strip(), context=CONTEXT)


def test_bad_question_answering_input_is_a_clear_error(qa_folder):
    from rosetta import pipeline

    qa = pipeline("question-answering", model=str(qa_folder))
    bad = [
        ({"question": "Who?"}, {}, "'context' is missing"),
        ({"question": "", "context": CONTEXT}, {}, "`question` must be a non-empty string"),
        (None, {"question": ["a", "b"], "context": [CONTEXT]}, "same length"),
        (None, {"question": "Who?"}, "needs both question= and context="),
        (42, {}, "question-answering takes"),
        (item := {"question": "Who?", "context": CONTEXT}, {"top_k": 0}, "top_k must be an integer >= 1"),
        (item, {"max_answer_len": 0}, "max_answer_len must be"),
        (item, {"max_seq_len": 32, "doc_stride": 40}, "doc_stride \\(40\\) is larger than max_seq_len"),
        (item, {"topk": 2}, "unknown keyword\\(s\\) \\[.topk.\\]"),
    ]
    for inputs, kw, message in bad:
        with pytest.raises(InputError, match=message):
            qa(**kw) if inputs is None else qa(inputs, **kw)


def _hf446_python() -> str | None:
    for python in filter(None, HF446):
        if os.path.exists(python):
            probe = subprocess.run(
                [python, "-c", "import torch, transformers; print(transformers.__version__)"],
                capture_output=True,
                text=True,
            )
            if probe.stdout.strip().endswith("4.46.3"):
                return python
    return None


CASES_446 = [
    *CASES,
    ("Who?", CONTEXT, {"top_k": 2, "padding": "max_length", "max_seq_len": 40}),
    ("When?", CONTEXT, {"max_seq_len": 48}),
    ("When?", LONG, {"max_seq_len": 48}),
]


RECORDED_446 = Path(__file__).parent / "data" / "qa_transformers_446.json"


def _ask_446(python: str, qa_folder: Path, null_folder: Path) -> list:
    jobs = [(str(qa_folder), CASES_446), (str(null_folder), [CASES[-1]])]
    run = subprocess.run(
        [python, "-c", RUN_446],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env={**without_test_xla_flags(), "USE_TF": "0", "USE_FLAX": "0", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hf446_answers(qa_folder, null_folder):
    """transformers 4.46.3's pipeline (torch) answers on both folders: recorded, and re-asked where 4.46 runs."""
    python = _hf446_python()
    if python is not None and os.environ.get("ROSETTA_RECORD_446") == "1":
        RECORDED_446.parent.mkdir(exist_ok=True)
        RECORDED_446.write_text(json.dumps(_ask_446(python, qa_folder, null_folder), indent=1) + "\n")
    recorded = json.loads(RECORDED_446.read_text())
    if python is not None:  # the file still says what 4.46 says on these weights
        for fresh, kept in zip(_ask_446(python, qa_folder, null_folder), recorded, strict=True):
            for theirs, ref in zip(fresh, kept, strict=True):
                assert_same_answers(theirs, ref)
    return recorded


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_question_answering_matches_transformers_446_pipeline(
    framework, qa_folder, null_folder, hf446_answers
):
    require(framework_key(framework))
    from rosetta import pipeline

    for folder, cases, theirs in zip((qa_folder, null_folder), (CASES_446, [CASES[-1]]), hf446_answers):
        qa = pipeline("question-answering", model=str(folder), framework=framework)
        assert len(theirs) == len(cases)
        for (question, context, kw), ref in zip(cases, theirs):
            assert_same_answers(qa(question=question, context=context, **kw), ref)
