"""The losses of the task heads in PyTorch; the TF and Flax losses give the same numbers.

`cross_entropy` flattens to [N, C] logits and [N] targets and leaves out `ignore_index`
(-100 by default); `sequence_classification_loss` picks regression, single- or multi-label
by the one neutral rule in `rosetta.core.problem_type`.
"""

from __future__ import annotations

import torch
from torch import nn

from ...core.configuration import PretrainedConfig
from ...core.problem_type import REGRESSION, SINGLE_LABEL_CLASSIFICATION, problem_type

IGNORE_INDEX = -100


def labels_are_integers(labels: torch.Tensor) -> bool:
    return not (labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool)


def cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Mean softmax cross entropy over the labels that are not `ignore_index` (NaN if all are)."""
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=ignore_index
    )


def sequence_classification_loss(
    config: PretrainedConfig, logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Regression, single- or multi-label loss, chosen by `config.problem_type` (inferred once if unset)."""
    num_labels = config.num_labels
    kind = problem_type(config, num_labels, labels_are_integers(labels))
    if kind == REGRESSION:
        if num_labels == 1:
            return nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return nn.functional.mse_loss(logits, labels.to(logits.dtype))
    if kind == SINGLE_LABEL_CLASSIFICATION:
        return cross_entropy(logits.reshape(-1, num_labels), labels)
    return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def question_answering_loss(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start_positions: torch.Tensor,
    end_positions: torch.Tensor,
) -> torch.Tensor:
    """Mean of the start and end cross entropies; positions outside the sequence are clamped and ignored."""
    ignored_index = start_logits.size(1)
    start_positions = start_positions.clamp(0, ignored_index)
    end_positions = end_positions.clamp(0, ignored_index)
    start_loss = cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2
