"""`question-answering`: extractive answers from start/end logits, as transformers 4.46's pipeline gives them.

A context longer than `max_seq_len` is cut into overlapping windows (`doc_stride` tokens of overlap) by the
tokenizer's `return_overflowing_tokens`; every window is one row of the base class's batching, and the
spans of all windows compete for the answer. The span scores are those of transformers
4.46's `select_starts_ends` / `decode_spans` (transformers 5 removed the pipeline), ported here in numpy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, Row, _is_dataset

_NULL_SCORE = 1000000.0  # transformers' "large and positive" start for the smallest null score


@dataclass
class QAExample:
    """One question about one context (what transformers calls a SquadExample)."""

    question: str
    context: str


def _example(item: Any) -> QAExample:
    if isinstance(item, QAExample):
        return item
    if isinstance(item, Mapping):
        for key in ("question", "context"):
            if key not in item:
                raise InputError(
                    f"A question-answering input dict needs the keys 'question' and 'context'; {key!r} is missing."
                )
        question, context = item["question"], item["context"]
    elif hasattr(item, "question_text") and hasattr(item, "context_text"):  # a SquadExample
        question, context = item.question_text, item.context_text
    else:
        raise InputError(
            "question-answering takes question= and context= (strings or lists of strings), a dict "
            f"{{'question': ..., 'context': ...}}, a SquadExample, or a list of those; got {item!r}."
        )
    for key, value in (("question", question), ("context", context)):
        if not isinstance(value, str) or not value:
            raise InputError(f"question-answering: `{key}` must be a non-empty string, got {value!r}.")
    return QAExample(question, context)


def qa_examples(args: tuple[Any, ...], question: Any, context: Any) -> list[QAExample]:
    """The examples in any form transformers 4.46's argument handler takes them."""
    if args and (question is not None or context is not None):
        raise InputError("Pass the inputs either positionally or as question=/context=, not both.")
    if len(args) == 2 and all(isinstance(a, str) for a in args):
        items: Any = [{"question": args[0], "context": args[1]}]
    elif len(args) == 1:
        items = args[0]
    elif args:
        items = list(args)
    elif question is not None and context is not None:
        if isinstance(question, (list, tuple)) and isinstance(context, str):
            items = [{"question": q, "context": context} for q in question]
        elif isinstance(question, (list, tuple)) and isinstance(context, (list, tuple)):
            if len(question) != len(context):
                raise InputError(
                    f"question and context lists must have the same length ({len(question)} != {len(context)})."
                )
            items = [{"question": q, "context": c} for q, c in zip(question, context)]
        elif isinstance(question, str) and isinstance(context, str):
            items = [{"question": question, "context": context}]
        else:
            raise InputError(
                "question= and context= must be strings, a list of questions with one context, or two lists "
                f"of the same length; got {type(question).__name__} and {type(context).__name__}."
            )
    else:
        raise InputError("question-answering needs both question= and context= (or a dict with both).")
    if isinstance(items, Mapping) or not isinstance(items, (list, tuple)):
        items = [items]
    if not items:
        raise InputError("question-answering got an empty list of inputs.")
    return [_example(item) for item in items]


def decode_spans(
    start: np.ndarray, end: np.ndarray, topk: int, max_answer_len: int, undesired_tokens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `topk` best (start, end) token spans by start x end probability, end >= start and shorter than
    `max_answer_len`, keeping those whose ends lie where `undesired_tokens` is non-zero (transformers 4.46)."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = np.array([np.argmax(scores_flat)])
    elif len(scores_flat) < topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    allowed = undesired_tokens.nonzero()  # as 4.46: every index array of the (batch, tokens) mask
    desired = np.isin(starts, allowed) & np.isin(ends, allowed)
    starts, ends = starts[desired], ends[desired]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(
    start: np.ndarray,
    end: np.ndarray,
    p_mask: np.ndarray,
    attention_mask: np.ndarray | None,
    min_null_score: float = _NULL_SCORE,
    top_k: int = 1,
    handle_impossible_answer: bool = False,
    max_answer_len: int = 15,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Softmax of start and end logits over the answerable tokens (CLS kept for the null answer), then
    `decode_spans`; also the smallest CLS x CLS (null answer) score so far (transformers 4.46)."""
    undesired_tokens = np.abs(np.asarray(p_mask) - 1)
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_mask = undesired_tokens == 0.0
    start = np.where(undesired_mask, -10000.0, start)
    end = np.where(undesired_mask, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, float(start[0, 0] * end[0, 0]))
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score


def _positive(name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


class QuestionAnsweringPipeline(Pipeline):
    """Answer `question` from `context`: `{score, start, end, answer}` (character offsets in the context), or
    a list of `top_k` of them, as transformers 4.46's question-answering pipeline returns them.

    `doc_stride` (default min(max_seq_len // 2, 128)) is the overlap of the windows a long context is cut
    into; `max_seq_len` (default min(model_max_length, 384)) their length in tokens; `max_question_len`
    (default 64) the longest question in tokens (a longer one is cut); `max_answer_len` (default 15) the
    longest answer in tokens; `handle_impossible_answer` adds the empty answer, scored by CLS x CLS;
    `align_to_words` (default True) widens an answer to whole words. Each window is one row of the base
    class's batching (`batch_size=` puts windows of one or several examples in one forward).
    """

    auto_class = "AutoModelForQuestionAnswering"
    accepts = "question= and context=, a {'question', 'context'} dict, or a non-empty list of those"

    def __call__(
        self,
        *args: Any,
        question: str | list[str] | None = None,
        context: str | list[str] | None = None,
        batch_size: int | None = None,
        progress_bar: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Answers as transformers 4.46 shapes them: one answer (a dict, or a list of top_k dicts) for one
        example or a list of one; a list of answers for several; a generator for a generator or dataset."""
        if len(args) == 1 and question is None and context is None and _is_stream(args[0]):
            inputs: Any = args[0]  # items are checked as they are read, as transformers trusts them
        else:
            examples = qa_examples(args, question, context)
            inputs = examples[0] if len(examples) == 1 else examples
        return super().__call__(inputs, batch_size=batch_size, progress_bar=progress_bar, **kwargs)

    @property
    def task_name(self) -> str:
        return "question-answering"

    def _is_single(self, inputs: Any) -> bool:
        return isinstance(inputs, QAExample)

    def _sanitize_parameters(
        self,
        top_k: int = 1,
        doc_stride: int | None = None,
        max_answer_len: int = 15,
        max_seq_len: int | None = None,
        max_question_len: int = 64,
        handle_impossible_answer: bool = False,
        align_to_words: bool = True,
        padding: bool | str = "do_not_pad",
    ) -> tuple[dict, dict, dict]:
        if max_seq_len is None:
            max_seq_len = min(self.tokenizer.model_max_length, 384)
        max_seq_len = _positive("max_seq_len", max_seq_len)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        doc_stride = _positive("doc_stride", doc_stride, minimum=0)
        if doc_stride > max_seq_len:
            raise InputError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}).")
        pre = {
            "padding": padding,
            "doc_stride": doc_stride,
            "max_question_len": _positive("max_question_len", max_question_len),
            "max_seq_len": max_seq_len,
        }
        post = {
            "top_k": _positive("top_k", top_k),
            "handle_impossible_answer": bool(handle_impossible_answer),
            "max_answer_len": _positive("max_answer_len", max_answer_len),
            "align_to_words": bool(align_to_words),
        }
        return pre, {}, post

    # -- preprocessing: one example -> one row per window -----------------------------------------------
    def preprocess(
        self,
        item: Any,
        padding: bool | str = "do_not_pad",
        doc_stride: int = 128,
        max_question_len: int = 64,
        max_seq_len: int = 384,
    ) -> list[Row]:
        """The windows of one example, each a row: the model's inputs, `p_mask` (1 where no answer may be),
        and the alignment (character offsets, word and sequence ids; -1 for none) of its tokens."""
        example = _example(item)
        tokenizer = self.tokenizer
        question = self._cut_question(example.question, max_question_len)
        question_first = tokenizer.padding_side == "right"
        encoded = tokenizer(
            text=question if question_first else example.context,
            text_pair=example.context if question_first else question,
            padding=padding,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=doc_stride,
            return_token_type_ids=True,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        names = [k for k in tokenizer.model_input_names if k in encoded]
        rows = []
        for span, encoding in enumerate(encoded.encodings):
            ids = np.asarray(encoding.ids)
            p_mask = np.array([int(t != 1) if question_first else 0 for t in encoding.sequence_ids])
            if tokenizer.cls_token_id is not None:  # CLS stays answerable: the null answer
                p_mask[ids == tokenizer.cls_token_id] = 0
            row = {name: np.asarray(encoded[name][span], dtype=np.int64)[None] for name in names}
            row["attention_mask"] = np.asarray(encoding.attention_mask, dtype=np.int64)[None]
            row["qa_p_mask"] = p_mask[None]
            row["qa_offsets"] = np.asarray(encoding.offsets, dtype=np.int64).reshape(1, -1, 2)
            row["qa_word_ids"] = np.array([[-1 if w is None else w for w in encoding.word_ids]])
            row["qa_sequence_ids"] = np.array([[-1 if q is None else q for q in encoding.sequence_ids]])
            row["qa_length"] = np.array([[len(ids), int("attention_mask" in names)]])
            rows.append(row)
        return rows

    def _cut_question(self, question: str, max_question_len: int) -> str:
        """The question cut to its first `max_question_len` tokens (at the end of the last kept token)."""
        encoded = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= max_question_len:
            return question
        return question[: offsets[max_question_len - 1][1]]

    def _pad_value(self, key: str) -> Any:
        return 1 if key == "qa_p_mask" else -1 if key.startswith("qa_") else super()._pad_value(key)

    def _length(self, row: Row) -> int:
        return int(row["qa_length"][0, 0])

    # -- postprocessing: spans of every window -> answers -----------------------------------------------
    def postprocess(
        self,
        outputs: list[dict[str, np.ndarray]],
        index: None,
        item: Any,
        features: list[Row],
        top_k: int = 1,
        handle_impossible_answer: bool = False,
        max_answer_len: int = 15,
        align_to_words: bool = True,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        example = _example(item)
        left = self.padding_side == "left"
        question_first = self.tokenizer.padding_side == "right"
        min_null_score = _NULL_SCORE
        answers = []
        for output, row in zip(outputs, features):
            length, mask_given = (int(v) for v in row["qa_length"][0])
            window = slice(-length, None) if left else slice(0, length)  # undo the batch's padding
            span = {k: v[:, window] for k, v in row.items() if k != "qa_length"}
            starts, ends, scores, min_null_score = select_starts_ends(
                output["start_logits"][:, window],
                output["end_logits"][:, window],
                span["qa_p_mask"][0],
                span["attention_mask"] if mask_given else None,
                min_null_score,
                top_k,
                handle_impossible_answer,
                max_answer_len,
            )
            offset = 0
            if self.tokenizer.padding_side == "left":  # the tokenizer's own padding (padding=...), as 4.46
                offset = int((span["input_ids"] == self.tokenizer.pad_token_id).sum())
            for s, e, score in zip(starts, ends, scores):
                start_index, end_index = _char_span(
                    span, int(s) - offset, int(e) - offset, 1 if question_first else 0, align_to_words
                )
                answers.append(
                    {
                        "score": float(score),
                        "start": start_index,
                        "end": end_index,
                        "answer": example.context[start_index:end_index],
                    }
                )
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def _is_stream(value: Any) -> bool:
    """A generator/iterator or a dataset of examples (not one example, not a list)."""
    return isinstance(value, Iterator) or _is_dataset(value)


def _char_span(span: Row, s: int, e: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
    """Character offsets of tokens s..e in the context: widened to whole words when asked and possible (as
    tokenizers' `token_to_word` / `word_to_chars` do it), else the tokens' own offsets."""
    offsets = span["qa_offsets"][0]
    if align_to_words:
        words, sequences = span["qa_word_ids"][0], span["qa_sequence_ids"][0]
        start_word, end_word = words[s], words[e]
        if start_word >= 0 and end_word >= 0:
            in_start = np.flatnonzero((words == start_word) & (sequences == sequence_index))
            in_end = np.flatnonzero((words == end_word) & (sequences == sequence_index))
            if len(in_start) and len(in_end):
                return int(offsets[in_start[0]][0]), int(offsets[in_end[-1]][1])
    return int(offsets[s][0]), int(offsets[e][1])
