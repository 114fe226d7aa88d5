"""Text tasks over one forward pass: features, classification, fill-mask, token classification."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import MODEL_INPUTS, Pipeline, Row, TextPipeline, check_texts, sigmoid, softmax

AGGREGATIONS = ("none", "simple", "first", "average", "max")


def _real(encoding: Any, index: int) -> np.ndarray:
    return np.asarray(encoding["attention_mask"][index]).astype(bool)


class FeatureExtractionPipeline(TextPipeline):
    """The last hidden state of each real (unpadded) token: [1][tokens][hidden] per text, as transformers."""

    def postprocess(self, outputs, index, text, encoding, **kwargs):
        return [outputs["last_hidden_state"][index][_real(encoding, index)].tolist()]


class TextClassificationPipeline(TextPipeline):
    """Label scores: softmax for single-label, sigmoid for multi-label and one-label models."""

    auto_class = "AutoModelForSequenceClassification"

    def postprocess(
        self, outputs, index, text, encoding, top_k: int | None = 1, function_to_apply=None, **kw
    ):
        logits = outputs["logits"][index]
        config = self.model.config
        function = function_to_apply or (
            "none"
            if config.problem_type == "regression"
            else "sigmoid"
            if config.problem_type == "multi_label_classification" or config.num_labels == 1
            else "softmax"
        )
        function = str(getattr(function, "value", function)).lower()
        if function not in ("sigmoid", "softmax", "none"):
            raise InputError(
                f"function_to_apply must be 'sigmoid', 'softmax' or 'none', got {function_to_apply!r}."
            )
        scores = {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[function](logits)
        order = np.argsort(-scores, kind="stable")[: top_k or len(scores)]
        ranked = [{"label": config.id2label[int(i)], "score": float(scores[i])} for i in order]
        return ranked[0] if top_k == 1 else ranked


class FillMaskPipeline(TextPipeline):
    """The top_k tokens for the mask token in each text, with the filled-in sequence."""

    auto_class = "AutoModelForMaskedLM"

    def postprocess(self, outputs, index, text, encoding, top_k: int = 5, **kwargs):
        ids = np.asarray(encoding["input_ids"][index])
        positions = np.flatnonzero(ids == self.tokenizer.mask_token_id)
        if len(positions) != 1:
            raise InputError(
                f"fill-mask needs exactly one {self.tokenizer.mask_token} in each text; found {len(positions)}."
            )
        position = int(positions[0])
        probs = softmax(outputs["logits"][index, position])
        results = []
        for token_id in np.argsort(-probs, kind="stable")[:top_k]:
            filled = ids[_real(encoding, index)].copy()
            filled[position] = token_id
            results.append(
                {
                    "score": float(probs[token_id]),
                    "token": int(token_id),
                    "token_str": self.tokenizer.decode([int(token_id)]),
                    "sequence": self.tokenizer.decode(filled.tolist(), skip_special_tokens=True),
                }
            )
        return results


class TokenClassificationPipeline(TextPipeline):
    """Labels per token or, with `aggregation_strategy`, per entity, as transformers' NER pipeline gives them.

    `ignore_labels` (default ["O"]) leaves those labels out; `start`/`end` are character offsets in the text.
    `stride` (with an aggregation strategy other than "none") reads a text longer than the tokenizer's
    `model_max_length` in overlapping windows (the tokenizer's `return_overflowing_tokens`), each window a row
    of the base class's batching; overlapping entities of neighbouring windows are merged as transformers
    merges them (the longer one wins, then the higher score).
    """

    auto_class = "AutoModelForTokenClassification"

    @property
    def task_name(self) -> str:
        return "token-classification"

    def _sanitize_parameters(
        self,
        aggregation_strategy: Any = None,
        ignore_labels: list[str] | None = None,
        stride: int | None = None,
    ) -> tuple[dict, dict, dict]:
        strategy = str(getattr(aggregation_strategy, "value", aggregation_strategy) or "none").lower()
        if strategy not in AGGREGATIONS:
            raise InputError(
                f"aggregation_strategy must be one of {AGGREGATIONS}, got {aggregation_strategy!r}."
            )
        if ignore_labels is not None and (
            isinstance(ignore_labels, str) or not all(isinstance(label, str) for label in ignore_labels)
        ):
            raise InputError(f"ignore_labels must be a list of label names, got {ignore_labels!r}.")
        if stride is not None:
            if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 0:
                raise InputError(f"stride must be a non-negative integer, got {stride!r}.")
            if stride >= self.tokenizer.model_max_length:
                raise InputError(
                    f"stride ({stride}) must be less than the tokenizer's model_max_length "
                    f"({self.tokenizer.model_max_length}), less its special tokens."
                )
            if strategy == "none":
                raise InputError(
                    'stride reads the whole text in windows, which needs an aggregation_strategy other than "none" '
                    '(e.g. aggregation_strategy="simple").'
                )
        post = {"aggregation_strategy": strategy, "ignore_labels": ignore_labels}
        return {"stride": stride}, {}, post

    def preprocess(self, item: Any, stride: int | None = None) -> Row | list[Row]:
        if stride is None:
            return super().preprocess(item)
        if not isinstance(item, str) or not item:
            raise InputError(f"{self.task_name} takes {self.accepts}, got {item!r}.")
        encoding = self.tokenizer(
            item,
            truncation=True,
            padding=True,
            stride=int(stride),
            return_overflowing_tokens=True,
            return_tensors="np",
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        keys = [k for k in encoding if k != "overflow_to_sample_mapping"]
        return [
            {k: np.asarray(encoding[k])[i : i + 1] for k in keys} for i in range(len(encoding["input_ids"]))
        ]

    def postprocess(
        self,
        outputs: Any,
        index: int | None,
        text: str,
        encoding: Any,
        aggregation_strategy: str = "none",
        ignore_labels: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        ignore = ["O"] if ignore_labels is None else list(ignore_labels)
        if index is not None:
            return self._entities(
                outputs["logits"][index], encoding, index, text, aggregation_strategy, ignore
            )
        entities = []  # the windows of a long text (stride=...)
        for window_outputs, window in zip(outputs, encoding):
            entities += self._entities(
                window_outputs["logits"][0], window, 0, text, aggregation_strategy, ignore
            )
        return _merge_overlapping(entities) if len(outputs) > 1 else entities

    def _entities(
        self, logits: np.ndarray, encoding: Any, index: int, text: str, strategy: str, ignore: list[str]
    ) -> list[dict[str, Any]]:
        pre = self._pre_entities(softmax(logits), index, text, encoding)
        if strategy in ("none", "simple"):
            entities = [self._token_entity(p) for p in pre]
        else:
            entities = [self._word_entity(group, strategy) for group in _words(pre)]
        if strategy != "none":
            entities = self._group(entities)
        return [e for e in entities if e.get("entity", e.get("entity_group")) not in ignore]

    def _pre_entities(self, scores: np.ndarray, index: int, text: str, encoding: Any) -> list[dict]:
        ids = np.asarray(encoding["input_ids"][index])
        special = np.asarray(encoding["special_tokens_mask"][index])
        offsets = np.asarray(encoding["offset_mapping"][index])
        backend = getattr(self.tokenizer, "_tokenizer", None)
        word_aware = bool(backend and getattr(backend.model, "continuing_subword_prefix", None))
        mask = np.asarray(encoding["attention_mask"][index])
        shift = int((mask == 0).sum()) if self.padding_side == "left" else 0  # the batch's left padding
        pre = []
        for idx, token_id in enumerate(ids):
            if special[idx] or not mask[idx]:
                continue
            word = self.tokenizer.convert_ids_to_tokens(int(token_id))
            start, end = int(offsets[idx][0]), int(offsets[idx][1])
            if word_aware:
                is_subword = len(word) != len(text[start:end])
            else:
                is_subword = start > 0 and " " not in text[start - 1 : start + 1]
            if int(token_id) == self.tokenizer.unk_token_id:
                word, is_subword = text[start:end], False
            pre.append(
                {
                    "word": word,
                    "scores": scores[idx],
                    "start": start,
                    "end": end,
                    "index": idx - shift,
                    "is_subword": is_subword,
                }
            )
        return pre

    def _label(self, scores: np.ndarray) -> tuple[str, float]:
        best = int(scores.argmax())
        return self.model.config.id2label[best], float(scores[best])

    def _token_entity(self, pre: dict) -> dict:
        label, score = self._label(pre["scores"])
        return {
            "entity": label,
            "score": score,
            "index": pre["index"],
            "word": pre["word"],
            "start": pre["start"],
            "end": pre["end"],
        }

    def _word_entity(self, group: list[dict], strategy: str) -> dict:
        if strategy == "first":
            scores = group[0]["scores"]
        elif strategy == "max":
            scores = max(group, key=lambda p: p["scores"].max())["scores"]
        else:
            scores = np.nanmean(np.stack([p["scores"] for p in group]), axis=0)
        label, score = self._label(scores)
        word = self.tokenizer.convert_tokens_to_string([p["word"] for p in group])
        return {
            "entity": label,
            "score": score,
            "word": word,
            "start": group[0]["start"],
            "end": group[-1]["end"],
        }

    def _group(self, entities: list[dict]) -> list[dict]:
        groups: list[list[dict]] = []
        for entity in entities:
            bi, tag = _tag(entity["entity"])
            if groups and tag == _tag(groups[-1][-1]["entity"])[1] and bi != "B":
                groups[-1].append(entity)
            else:
                groups.append([entity])
        return [
            {
                "entity_group": group[0]["entity"].split("-", 1)[-1],
                "score": float(np.nanmean([e["score"] for e in group])),
                "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in group]),
                "start": group[0]["start"],
                "end": group[-1]["end"],
            }
            for group in groups
        ]


def _merge_overlapping(entities: list[dict]) -> list[dict]:
    """Entities of overlapping windows, one per stretch of text: of two that overlap, the longer (then the
    higher-scoring) one stays, as transformers' `aggregate_overlapping_entities` does."""
    if not entities:
        return entities
    entities = sorted(entities, key=lambda e: e["start"])
    merged, previous = [], entities[0]
    for entity in entities:
        if previous["start"] <= entity["start"] < previous["end"]:
            length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
            if length > previous_length or (
                length == previous_length and entity["score"] > previous["score"]
            ):
                previous = entity
        else:
            merged.append(previous)
            previous = entity
    merged.append(previous)
    return merged


def _words(pre: list[dict]) -> list[list[dict]]:
    words: list[list[dict]] = []
    for entity in pre:
        if words and entity["is_subword"]:
            words[-1].append(entity)
        else:
            words.append([entity])
    return words


def _tag(label: str) -> tuple[str, str]:
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


class ZeroShotClassificationPipeline(Pipeline):
    """NLI as a classifier: each candidate label becomes the hypothesis `hypothesis_template.format(label)`.

    Scores are a softmax of the entailment logits over the labels, or with `multi_label=True` (or a single
    label) entailment against contradiction for each label on its own, as transformers computes them.
    """

    auto_class = "AutoModelForSequenceClassification"
    accepts = "a non-empty string or a non-empty list of strings"
    buckets_sequences = True

    @property
    def task_name(self) -> str:
        return "zero-shot-classification"

    def _sanitize_parameters(
        self,
        candidate_labels: str | list[str] | None = None,
        hypothesis_template: str = "This example is {}.",
        multi_label: bool = False,
    ) -> tuple[dict, dict, dict]:
        labels = _candidate_labels(candidate_labels)
        if hypothesis_template.format(labels[0]) == hypothesis_template:
            raise InputError(
                f"hypothesis_template {hypothesis_template!r} has no {{}} for the label; "
                "write it like 'This example is {}.'."
            )
        hypotheses = [hypothesis_template.format(label) for label in labels]
        return {"hypotheses": hypotheses}, {}, {"labels": labels, "multi_label": multi_label}

    def preprocess(self, item: Any, hypotheses: list[str]) -> list[Row]:
        """One row per candidate label: the text paired with that label's hypothesis."""
        check_texts(self.task_name, item)
        rows = []
        for hypothesis in hypotheses:
            encoding = self.tokenizer(item, hypothesis, truncation="only_first", return_tensors="np")
            rows.append({k: np.asarray(encoding[k]) for k in MODEL_INPUTS if k in encoding})
        return rows

    def postprocess(self, outputs, index, item, features, labels: list[str], multi_label: bool) -> dict:
        logits = np.concatenate([o["logits"] for o in outputs], axis=0)
        entailment = self._entailment_id()
        if multi_label or len(labels) == 1:
            contradiction = -1 if entailment == 0 else 0
            scores = softmax(logits[:, [contradiction, entailment]])[:, 1]
        else:
            scores = softmax(logits[:, entailment])
        order = list(reversed(scores.argsort()))
        return {"sequence": item, "labels": [labels[i] for i in order], "scores": scores[order].tolist()}

    def _entailment_id(self) -> int:
        for label, index in self.model.config.label2id.items():
            if label.lower().startswith("entail"):
                return int(index)
        return -1


def _candidate_labels(candidate_labels: Any) -> list[str]:
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",") if label.strip()]
    if not candidate_labels or not all(isinstance(c, str) and c for c in candidate_labels):
        raise InputError(
            "zero-shot-classification needs candidate_labels: a non-empty list of strings "
            f"(or one comma-separated string); got {candidate_labels!r}."
        )
    return list(candidate_labels)
