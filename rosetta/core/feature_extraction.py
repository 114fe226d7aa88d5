"""Audio feature extraction in numpy, and the config file every image or audio preprocessor shares.

`FeatureExtractionMixin` reads and writes preprocessor_config.json in the Hugging Face layout
(the class name under `feature_extractor_type` or `image_processor_type`); image processors
and feature extractors both inherit it. `SequenceFeatureExtractor` adds what raw audio needs:
batching, padding, truncation, an attention mask and the sampling-rate check.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .configuration import load_json
from .errors import InputError, MissingFileError
from .hub import HubOptions, PushToHubMixin, is_local, resolve_file
from .io import atomic_write_text
from .tensors import BatchFeature, check_tensor_type, framework_of, to_numpy

logger = logging.getLogger(__name__)

PREPROCESSOR_CONFIG_FILE = "preprocessor_config.json"
PROCESSOR_CONFIG_FILE = "processor_config.json"

# Keys a config file may carry that are not constructor arguments.
_NOT_INIT_KEYS = {
    "feature_extractor_type",
    "image_processor_type",
    "auto_map",
    "transformers_version",
    "rosetta_version",
}

__all__ = ["BatchFeature", "FeatureExtractionMixin", "SequenceFeatureExtractor"]


class FeatureExtractionMixin(PushToHubMixin):
    """Config handling shared by image processors and feature extractors.

    Every constructor argument is stored as a public attribute; `to_dict()` is those attributes
    plus the class name, which is what preprocessor_config.json holds. Unknown keys survive a
    load/save round trip.
    """

    type_key: ClassVar[str] = "feature_extractor_type"
    processor_key: ClassVar[str] = "feature_extractor"  # its entry in a transformers 5 processor_config.json
    model_input_names: ClassVar[list[str]] = []

    def __init__(self, **kwargs: Any):
        for key, value in kwargs.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        output = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if not k.startswith("_")}
        output[self.type_key] = type(self).__name__
        return output

    def to_json_string(self) -> str:
        return json.dumps(_jsonable(self.to_dict()), indent=2, sort_keys=True) + "\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureExtractionMixin):
            return NotImplemented
        return type(self) is type(other) and self.to_json_string() == other.to_json_string()

    def save_pretrained(
        self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs: Any
    ) -> list[str]:
        """Write preprocessor_config.json (atomically) into `save_directory`."""
        if os.path.isfile(save_directory):
            raise InputError(f"save_pretrained needs a folder, but {os.fspath(save_directory)!r} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, PREPROCESSOR_CONFIG_FILE)
        atomic_write_text(path, self.to_json_string())
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return [path]

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], **overrides: Any):
        values = {k: v for k, v in config.items() if k not in _NOT_INIT_KEYS}
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any):
        return cls.from_dict(load_json(path), **overrides)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load preprocessor_config.json from a folder or Hub repo; keyword arguments override its values.

        A folder saved by a transformers 5 processor keeps this config inside processor_config.json,
        which is read when preprocessor_config.json is absent.
        """
        options = HubOptions.pop_from(kwargs)
        source = pretrained_model_name_or_path
        path = resolve_file(source, PREPROCESSOR_CONFIG_FILE, options, required=False)
        if path is not None:
            return cls.from_dict(load_json(path), **kwargs)
        processor_path = resolve_file(source, PROCESSOR_CONFIG_FILE, options, required=False)
        nested = load_json(processor_path).get(cls.processor_key) if processor_path else None
        if isinstance(nested, Mapping):
            return cls.from_dict(nested, **kwargs)
        where = (
            f"the local folder {os.path.abspath(source)}" if is_local(source) else f"{os.fspath(source)!r}"
        )
        raise MissingFileError(
            PREPROCESSOR_CONFIG_FILE, where, options.revision,
            hint=f"{cls.__name__} reads its settings from it (or from the '{cls.processor_key}' entry of processor_config.json).",
        )  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class SequenceFeatureExtractor(FeatureExtractionMixin):
    """Base of audio feature extractors: mono waveforms in, padded float32 arrays out.

    Args:
        feature_size: values per time step of the model input (1 for raw audio).
        sampling_rate: the rate, in Hz, the model was trained on; inputs at another rate are refused.
        padding_value: what padding is filled with (silence).
    """

    model_input_names: ClassVar[list[str]] = ["input_values", "attention_mask"]

    def __init__(
        self,
        feature_size: int,
        sampling_rate: int,
        padding_value: float,
        padding_side: str = "right",
        return_attention_mask: bool = True,
        **kwargs: Any,
    ):
        if padding_side not in ("left", "right"):
            raise InputError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
        self.feature_size = feature_size
        self.sampling_rate = sampling_rate
        self.padding_value = padding_value
        self.padding_side = padding_side
        self.return_attention_mask = return_attention_mask
        super().__init__(**kwargs)

    def check_sampling_rate(self, sampling_rate: int | None) -> None:
        if sampling_rate is None:
            logger.warning(
                "Pass sampling_rate=... to %s: audio at another rate than %d Hz gives silently wrong features.",
                type(self).__name__,
                self.sampling_rate,
            )
        elif sampling_rate != self.sampling_rate:
            raise InputError(
                f"{type(self).__name__} expects audio sampled at {self.sampling_rate} Hz, got sampling_rate={sampling_rate}. "
                f"Resample the audio to {self.sampling_rate} Hz first."
            )

    def as_batch(self, raw_speech: Any) -> tuple[list[np.ndarray], bool]:
        """Validate raw audio (one waveform or a batch) and return it as a list of float32 arrays."""
        if raw_speech is None:
            raise InputError(
                "No audio was given. Pass a 1-d array (or list of floats) per waveform, or a list of them."
            )
        if framework_of(raw_speech) is not None:
            raw_speech = to_numpy(raw_speech)
        if isinstance(raw_speech, np.ndarray):
            if raw_speech.ndim > 2:
                raise InputError(
                    f"Only mono audio is supported: got an array of shape {raw_speech.shape}; pass one channel."
                )
            is_batched = raw_speech.ndim == 2
            waveforms = list(raw_speech) if is_batched else [raw_speech]
        elif isinstance(raw_speech, Sequence) and not isinstance(raw_speech, str):
            if len(raw_speech) == 0:
                raise InputError("The audio batch is empty; pass at least one waveform.")
            first = raw_speech[0]
            is_batched = isinstance(first, (list, tuple, np.ndarray)) or framework_of(first) is not None
            waveforms = list(raw_speech) if is_batched else [raw_speech]
        else:
            raise InputError(
                f"Audio must be a numpy array, a tensor or a list of floats, got {type(raw_speech).__name__}."
            )
        batch = []
        for index, waveform in enumerate(waveforms):
            try:
                array = np.asarray(
                    to_numpy(waveform) if framework_of(waveform) else waveform, dtype=np.float32
                )
            except (TypeError, ValueError) as err:
                raise InputError(f"Waveform {index} is not numeric audio: {err}.") from err
            if array.ndim != 1 and not (self.feature_size > 1 and array.ndim == 2):
                raise InputError(
                    f"Waveform {index} has shape {array.shape}; only mono audio (a 1-d array) is supported."
                )
            batch.append(array)
        return batch, is_batched

    def pad(
        self,
        processed_features: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        padding: bool | str = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """Pad (and truncate) a batch of sequences to one length; a list of dicts works as a collate function."""
        if isinstance(processed_features, Sequence) and not isinstance(processed_features, str):
            if not processed_features or not all(isinstance(e, Mapping) for e in processed_features):
                raise InputError(
                    "pad() takes a non-empty list of dicts (one per example) or a dict of lists."
                )
            processed_features = {key: [e[key] for e in processed_features] for key in processed_features[0]}
        main = self.model_input_names[0]
        if not isinstance(processed_features, Mapping) or main not in processed_features:
            raise InputError(f"pad() needs a dict with a {main!r} field.")
        check_tensor_type(return_tensors)
        framework = None
        features = {}
        for key, value in processed_features.items():
            found = framework_of(value) or (
                framework_of(value[0]) if isinstance(value, Sequence) and value else None
            )
            framework = framework or (found if found != "np" else None)  # numpy in, lists of arrays out
            rows = to_numpy(value) if framework_of(value) else value
            features[key] = [to_numpy(v) if framework_of(v) else np.asarray(v) for v in rows]
        if any(v.ndim == 0 for v in features[main]):
            raise InputError(f"pad() takes a batch: {main!r} must hold one sequence per example.")
        return_tensors = return_tensors if return_tensors is not None else framework
        if return_attention_mask is None:
            return_attention_mask = self.return_attention_mask

        padding = self._padding_strategy(padding, max_length)
        if truncation:
            if max_length is None:
                raise InputError("truncation=True needs max_length=... (the number of samples to keep).")
            limit = _round_up(max_length, pad_to_multiple_of)
            features = {
                k: [v[:limit] for v in values] if k in (main, "attention_mask") else values
                for k, values in features.items()
            }
        lengths = [len(v) for v in features[main]]
        target = max(lengths) if padding == "longest" else max_length
        if target is not None:
            target = _round_up(target, pad_to_multiple_of)

        outputs: dict[str, list[np.ndarray]] = {key: [] for key in features}
        if return_attention_mask:
            outputs["attention_mask"] = []
        for index, length in enumerate(lengths):
            missing = max(0, target - length) if padding != "do_not_pad" else 0
            before, after = (0, missing) if self.padding_side == "right" else (missing, 0)
            for key, values in features.items():
                value = values[index]
                if key == main:
                    widths = ((before, after),) + ((0, 0),) * (value.ndim - 1)
                    value = np.pad(value, widths, constant_values=self.padding_value)
                    value = value.astype(np.float32) if value.dtype == np.float64 else value
                elif key == "attention_mask":
                    continue
                outputs[key].append(value)
            if return_attention_mask:
                mask = (
                    features["attention_mask"][index]
                    if "attention_mask" in features
                    else np.ones(length, dtype=np.int32)
                )
                outputs["attention_mask"].append(np.pad(mask.astype(np.int32), (before, after)))
        return BatchFeature(outputs, tensor_type=return_tensors)

    def _padding_strategy(self, padding: Any, max_length: int | None) -> str:
        padding = getattr(padding, "value", padding)
        strategy = (
            {True: "longest", False: "do_not_pad", None: "do_not_pad"}.get(padding, padding)
            if not isinstance(padding, str)
            else padding
        )
        if strategy not in ("longest", "max_length", "do_not_pad"):
            raise InputError(
                f"padding={padding!r} is not a valid padding strategy. Use True, False, 'longest', 'max_length' or 'do_not_pad'."
            )
        if strategy == "max_length" and max_length is None:
            raise InputError("padding='max_length' needs max_length=... (the number of samples to pad to).")
        if strategy != "do_not_pad" and self.padding_value is None:
            raise InputError(
                f"Padding was asked for but {type(self).__name__} has no padding_value; set one, e.g. 0.0."
            )
        return strategy


def _round_up(length: int, multiple: int | None) -> int:
    if multiple and length % multiple:
        return (length // multiple + 1) * multiple
    return length


def zero_mean_unit_var_norm(
    input_values: list[np.ndarray], attention_mask: list[np.ndarray] | None = None, padding_value: float = 0.0
) -> list[np.ndarray]:
    """Normalise each waveform to zero mean and unit variance over its real samples (attention_mask == 1).

    Padding positions are set back to `padding_value`; without a mask the whole array counts.
    """
    normed = []
    for index, vector in enumerate(input_values):
        valid = (
            np.ones(len(vector), dtype=bool)
            if attention_mask is None
            else np.asarray(attention_mask[index], dtype=bool)
        )
        samples = vector[valid]
        out = (vector - samples.mean()) / np.sqrt(samples.var() + 1e-7)
        out[~valid] = padding_value
        normed.append(out.astype(np.float32, copy=False))
    return normed
