"""The one rule that tells a sequence-classification head which loss its labels ask for.

Every backend's `sequence_classification_loss` asks this rule, so a torch, TF and Flax model
given the same labels pick the same loss: one label is regression; several labels with
integer targets are single-label classification; several labels with float targets
(multi-hot) are multi-label classification. The answer is written into `config.problem_type`
the first time, as the field does, so it is saved with the model and never guessed again.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

REGRESSION = "regression"
SINGLE_LABEL_CLASSIFICATION = "single_label_classification"
MULTI_LABEL_CLASSIFICATION = "multi_label_classification"
PROBLEM_TYPES = (REGRESSION, SINGLE_LABEL_CLASSIFICATION, MULTI_LABEL_CLASSIFICATION)


def infer_problem_type(num_labels: int, labels_are_integers: bool) -> str:
    """The problem type labels of this kind ask for, ignoring any config."""
    if num_labels == 1:
        return REGRESSION
    if num_labels > 1 and labels_are_integers:
        return SINGLE_LABEL_CLASSIFICATION
    return MULTI_LABEL_CLASSIFICATION


def problem_type(config: Any, num_labels: int, labels_are_integers: bool) -> str:
    """`config.problem_type`, inferred from the labels and stored on the config if it was unset."""
    if config.problem_type is None:
        config.problem_type = infer_problem_type(num_labels, labels_are_integers)
    if config.problem_type not in PROBLEM_TYPES:
        raise ConfigError(
            f"config.problem_type is {config.problem_type!r}; set it to one of {PROBLEM_TYPES} "
            "or to None to infer it from the labels."
        )
    return config.problem_type
