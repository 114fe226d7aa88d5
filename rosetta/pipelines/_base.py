"""The pipeline base class: every task as preprocess -> batched forward -> postprocess, over any input stream.

How a task plugs in
-------------------
A task subclasses `Pipeline` and writes three steps (plus, where it needs them, two small hooks)::

    class MyPipeline(Pipeline):
        auto_class = "AutoModelForSomething"       # what pipeline() loads a path with
        processors = ("tokenizer",)                # what pipeline() reads beside the model

        def _sanitize_parameters(self, **kwargs) -> tuple[dict, dict, dict]:
            # the call's keywords split into (preprocess, forward, postprocess) keywords; refuse unknown ones
            # with an InputError naming them. Default: every keyword goes to postprocess.

        def preprocess(self, item, **params) -> dict[str, np.ndarray] | list[dict[str, np.ndarray]]:
            # ONE input -> its row of features: numpy arrays, each with a leading batch axis of 1. Arrays
            # beside the model's inputs may ride along (offsets, strides): `_forward` picks what it needs.
            # Return a LIST of rows for an input that takes several model calls (chunks of long audio,
            # overlapping windows of a long context, one row per candidate label); each row is batched
            # on its own. Raise InputError for an input the task cannot read.

        def _forward(self, batch, **params) -> dict[str, np.ndarray]:
            # the model on a batch: rows stacked by `collate` (padded along axis 1 where lengths differ,
            # with `_pad_value(key)`, on `padding_side`). Default: `self.forward` on `model_input_names`.

        def postprocess(self, outputs, index, item, features, **params):
            # the answer for one input. For a one-row input: `outputs` and `features` are the whole
            # batch it went through (padded), `index` its row in them. For a list-of-rows input: `outputs`
            # and `features` are lists (one per row, in preprocess order, each sliced to a leading axis
            # of 1, still padded as its batch was), and `index` is None.

    Optional hooks: `_is_single(inputs)` (whether the call got one input rather than many; default:
    anything but a list, tuple, iterator/generator or dataset), `_length(row)` (the sort key for length
    bucketing; default: the longest axis 1 among the row's arrays), `_pads_safely()` (False when padding
    would change the model's answer, e.g. audio models without an attention mask: then only rows of equal
    shapes share a batch).

What `__call__` does with them
------------------------------
`pipe(inputs, batch_size=N, progress_bar=False, **task_keywords)`. One input gives one answer. A list or
tuple gives a list of answers; a generator/iterator, a `datasets.Dataset` or a `KeyDataset` gives a
generator of answers (lazy: nothing runs before the first answer is asked for). Inputs are read in
windows of `WINDOW * batch_size`; a window's rows are sorted by `_length` and cut into batches of
`batch_size`, so padding stays small; the answers come back in input order. Memory is bounded by one
window however long the input. `batch_size=1` (the default, as transformers) runs each input alone and
streams each answer as soon as it is ready. `progress_bar=True` shows tqdm (or a plain stderr counter
when tqdm is not installed).
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._numpy import numpy_call

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
WINDOW = 32  # inputs read ahead per batch: a window of WINDOW * batch_size is sorted by length

Row = dict[str, np.ndarray]
# Flax batches of token sequences are padded to a multiple of this many tokens (see Pipeline._bucket).
SEQUENCE_BUCKET = 16


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def device_scope(framework: str, device: Any) -> contextlib.AbstractContextManager:
    """Where TF and Flax place the call; torch models are moved once, when the pipeline is built."""
    if device is None or framework == "torch":
        return contextlib.nullcontext()
    if framework == "tf":
        import tensorflow as tf

        return tf.device("/CPU:0")
    import jax

    return jax.default_device(jax.devices("cpu")[0])


def check_texts(name: str, inputs: Any) -> tuple[list[str], bool]:
    """(the texts as a list, whether one text was given); an InputError for anything else."""
    single = isinstance(inputs, str)
    texts = [inputs] if single else list(inputs) if isinstance(inputs, (list, tuple)) else None
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise InputError(f"{name} takes a non-empty string or a non-empty list of strings, got {inputs!r}.")
    return texts, single


def check_batch_size(batch_size: Any) -> int:
    """`batch_size` as a positive int (None means 1); an InputError naming it otherwise."""
    if batch_size is None:
        return 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise InputError(f"batch_size must be a positive int (1, 8, 32, ...), got {batch_size!r}.")
    return int(batch_size)


def check_progress_bar(progress_bar: Any) -> bool:
    if not isinstance(progress_bar, bool):
        raise InputError(f"progress_bar must be True or False, got {progress_bar!r}.")
    return progress_bar


class KeyDataset:
    """One column of a dataset as a dataset of its own: `pipe(KeyDataset(dataset, "audio"))` streams it."""

    def __init__(self, dataset: Any, key: str):
        self.dataset = dataset
        self.key = key

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index][self.key]


def _is_dataset(inputs: Any) -> bool:
    """A `datasets.Dataset`, a torch `Dataset` (transformers' KeyDataset is one) or our KeyDataset."""
    if isinstance(inputs, KeyDataset):
        return True
    if type(inputs).__module__.split(".")[0] == "datasets" and hasattr(inputs, "__len__"):
        return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(inputs, torch.utils.data.Dataset)


def _stream(inputs: Any) -> tuple[Iterable[Any], int | None, bool]:
    """(the inputs as an iterable, how many when known, whether the answers come back as a list)."""
    if isinstance(inputs, (list, tuple)):
        return inputs, len(inputs), True
    if _is_dataset(inputs):
        if type(inputs).__module__.split(".")[0] == "datasets":
            return inputs, len(inputs), False
        return (inputs[i] for i in range(len(inputs))), len(inputs), False
    return inputs, None, False  # an iterator or generator


def _checked_keywords(sanitize: Any, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs`, or an InputError naming the ones `sanitize` does not take (when it takes no **kwargs)."""
    parameters = inspect.signature(sanitize).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return kwargs
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        known = ", ".join([*parameters, "batch_size", "progress_bar"])
        raise InputError(f"{name} got unknown keyword(s) {unknown}; it takes {known}.")
    return kwargs


class _Progress:
    """tqdm when installed, else "name: done/total" rewritten on stderr."""

    def __init__(self, name: str, total: int | None):
        self.name, self.total, self.done = name, total, 0
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self.bar = None
        else:
            self.bar = tqdm(total=total, desc=name, file=sys.stderr)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            total = f"/{self.total}" if self.total is not None else ""
            sys.stderr.write(f"\r{self.name}: {self.done}{total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")


def collate(rows: list[Row], pad_value: Any, side: str = "right") -> Row:
    """Rows (arrays with a leading axis of 1) stacked into one batch; arrays whose axis 1 differs are padded
    along it with `pad_value(key)` on `side`. Any other difference in shape is an InputError."""
    batch = {}
    for key in rows[0]:
        arrays = [np.asarray(row[key]) for row in rows]
        if len({a.shape for a in arrays}) > 1:
            if any(a.ndim < 2 or a.shape[2:] != arrays[0].shape[2:] for a in arrays):
                raise InputError(
                    f"Cannot batch {key!r}: its rows have shapes {[a.shape for a in arrays]}; "
                    "use batch_size=1."
                )
            longest = max(a.shape[1] for a in arrays)
            arrays = [_pad_axis1(a, longest, pad_value(key), side) for a in arrays]
        batch[key] = np.concatenate(arrays, axis=0)
    return batch


def pad_sequences_to(batch: Row, length: int, pad_value: Any, side: str = "right") -> Row:
    """Every array of the batch with a sequence axis (axis 1) padded on to `length` with `pad_value(key)`."""
    return {
        key: _pad_axis1(a, length, pad_value(key), side) if getattr(a, "ndim", 0) >= 2 else a
        for key, a in batch.items()
    }


def _pad_axis1(array: np.ndarray, length: int, value: Any, side: str) -> np.ndarray:
    if array.shape[1] >= length:
        return array
    width = [(0, 0)] * array.ndim
    width[1] = (0, length - array.shape[1]) if side == "right" else (length - array.shape[1], 0)
    return np.pad(array, width, constant_values=value)


def row_of(batch: Mapping[str, np.ndarray], index: int) -> Row:
    """Row `index` of a batch, each array keeping a leading axis of 1."""
    return {k: v[index : index + 1] for k, v in batch.items() if isinstance(v, np.ndarray)}


class Pipeline(ABC):
    """Preprocess -> run the model in its own framework, batched -> turn its outputs (as numpy) into answers.

    `processors` names what the task needs of tokenizer, image_processor and feature_extractor. See the
    module docstring for the three steps a task writes and what `__call__` does with them.
    """

    auto_class = "AutoModel"
    processors: tuple[str, ...] = ("tokenizer",)  # what the task reads its inputs with
    model_input_names: tuple[str, ...] = MODEL_INPUTS  # what the default `_forward` passes the model
    accepts = "an input or a non-empty list of inputs"  # said in the error for an empty list
    buckets_sequences = False  # rows are token sequences, right-padded safely (see `_bucket`)

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        framework: str,
        device: Any = None,
        image_processor: Any = None,
        feature_extractor: Any = None,
        batch_size: int | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.framework = framework
        self.device = device
        self.image_processor = image_processor
        self.feature_extractor = feature_extractor
        self.batch_size = check_batch_size(batch_size)

    # -- the call ----------------------------------------------------------------------------------------
    def __call__(
        self, inputs: Any, batch_size: int | None = None, progress_bar: bool = False, **kwargs: Any
    ) -> Any:
        """The answers for `inputs`, shaped as transformers' pipeline shapes them: one answer for one input,
        a list for a list, a generator for a generator or a dataset."""
        size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        progress = check_progress_bar(progress_bar)
        params = self._sanitize_parameters(
            **_checked_keywords(self._sanitize_parameters, self.task_name, kwargs)
        )
        if self._is_single(inputs):
            return self._window([inputs], 1, params)[0]
        items, total, as_list = _stream(inputs)
        if as_list and not total:
            raise InputError(f"{self.task_name} takes {self.accepts}, got {inputs!r}.")
        answers = self._answers(items, total, size, params, progress)
        return list(answers) if as_list else answers

    @property
    def task_name(self) -> str:
        return type(self).__name__

    def _answers(
        self, items: Iterable[Any], total: int | None, size: int, params: tuple, progress: bool
    ) -> Iterator[Any]:
        bar = _Progress(self.task_name, total) if progress else None
        source = iter(items)
        try:
            while True:
                window = list(itertools.islice(source, 1 if size == 1 else WINDOW * size))
                if not window:
                    return
                for answer in self._window(window, size, params):
                    yield answer
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    def _window(self, items: list[Any], size: int, params: tuple) -> list[Any]:
        """The answers for `items` (in their order): rows sorted by length, batched, run, postprocessed."""
        pre, fwd, post = params
        rows: list[tuple[int, int | None, Row]] = []  # (input, its row or None for a one-row input, row)
        parts: dict[int, list[Any]] = {}
        for i, item in enumerate(items):
            made = self.preprocess(item, **pre)
            if isinstance(made, list):
                if not made:
                    raise InputError(f"{self.task_name}: nothing to run for input {i}.")
                parts[i] = [None] * len(made)
                rows.extend((i, j, row) for j, row in enumerate(made))
            else:
                rows.append((i, None, made))
        order = sorted(range(len(rows)), key=lambda k: self._length(rows[k][2]))
        answers: list[Any] = [None] * len(items)
        for group in self._batches(order, rows, size):
            batch = self._bucket(collate([rows[k][2] for k in group], self._pad_value, self.padding_side))
            outputs = self._forward(batch, **fwd)
            for b, k in enumerate(group):
                i, j, _ = rows[k]
                if j is None:
                    answers[i] = self.postprocess(outputs, b, items[i], batch, **post)
                    continue
                parts[i][j] = (row_of(outputs, b), row_of(batch, b))
                if all(part is not None for part in parts[i]):
                    done = parts.pop(i)
                    answers[i] = self.postprocess(
                        [o for o, _ in done], None, items[i], [f for _, f in done], **post
                    )
        return answers

    def _batches(self, order: list[int], rows: list, size: int) -> Iterator[list[int]]:
        safe = self._pads_safely()
        group: list[int] = []
        for k in order:
            shapes = {key: a.shape for key, a in rows[k][2].items()}
            if group and (
                len(group) == size
                or (not safe and shapes != {key: a.shape for key, a in rows[group[0]][2].items()})
            ):
                yield group
                group = []
            group.append(k)
        if group:
            yield group

    # -- the steps a task writes -------------------------------------------------------------------------
    @classmethod
    def auto_class_for(cls, source: Any) -> str:
        """The Auto class `pipeline()` loads the folder / Hub id `source` with (a task served by several
        kinds of model, like speech recognition by CTC or Whisper, reads the checkpoint's config)."""
        return cls.auto_class

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        """The call's keywords as (preprocess, forward, postprocess) keywords. Default: all to postprocess."""
        return {}, {}, kwargs

    def _is_single(self, inputs: Any) -> bool:
        """Whether `inputs` is one input (not a list, tuple, iterator/generator or dataset of them)."""
        return not (isinstance(inputs, (list, tuple, Iterator)) or _is_dataset(inputs))

    @abstractmethod
    def preprocess(self, item: Any, **params: Any) -> Row | list[Row]:
        """One input -> its row of features (arrays with a leading axis of 1), or a list of rows."""

    def _forward(self, batch: Row, **params: Any) -> dict[str, np.ndarray]:
        """The model on a collated batch. Default: `forward` on the batch's `model_input_names`."""
        return self.forward({k: batch[k] for k in self.model_input_names if k in batch}, **params)

    @abstractmethod
    def postprocess(self, outputs: Any, index: int | None, item: Any, features: Any, **params: Any) -> Any:
        """The answer for one input (see the module docstring for what `outputs`, `index`, `features` are)."""

    # -- batching hooks ----------------------------------------------------------------------------------
    def _length(self, row: Row) -> int:
        """The sort key of a row for length bucketing: its longest axis 1."""
        return max((a.shape[1] for a in row.values() if getattr(a, "ndim", 0) >= 2), default=0)

    def _pad_value(self, key: str) -> Any:
        if key == "input_ids":
            return getattr(self.tokenizer, "pad_token_id", None) or 0
        if key == "special_tokens_mask":
            return 1
        return 0

    @property
    def padding_side(self) -> str:
        return getattr(self.tokenizer, "padding_side", None) or "right"

    def _pads_safely(self) -> bool:
        """Whether rows of different lengths may share a (padded) batch without changing their answers."""
        return True

    def _bucket(self, batch: Row) -> Row:
        """The batch as the model gets it. Flax compiles the model once per input shape, so in a pipeline whose
        rows are token sequences (`buckets_sequences`) a Flax batch is padded on to a multiple of
        `SEQUENCE_BUCKET` tokens (never past the model's maximum length): texts of every length then compile
        a few times instead of once per length. The answers stay the same: padded positions are masked, and
        postprocessing reads only the real tokens, as it does for the shorter rows of any batch."""
        if self.framework != "flax" or not self.buckets_sequences:
            return batch
        length = batch["input_ids"].shape[1]
        limits = (
            getattr(self.model.config, "max_position_embeddings", None),
            getattr(self.tokenizer, "model_max_length", None),
        )
        limit = min((int(n) for n in limits if isinstance(n, int) and 0 < n < 1_000_000), default=length)
        target = max(length, min(-(-length // SEQUENCE_BUCKET) * SEQUENCE_BUCKET, limit))
        return pad_sequences_to(batch, target, self._pad_value, self.padding_side)

    # -- the model ---------------------------------------------------------------------------------------
    def forward(self, inputs: dict[str, np.ndarray], **kwargs: Any) -> dict[str, np.ndarray]:
        """The model on numpy arrays, on the pipeline's device; float outputs as float32 numpy."""
        with device_scope(self.framework, self.device):
            out = numpy_call(self.model, inputs, **kwargs)
        return {
            k: v.astype(np.float32, copy=False) if v.dtype.kind == "f" else v
            for k, v in out.items()
            if isinstance(v, np.ndarray)
        }


class TextPipeline(Pipeline):
    """A text task: each text tokenised on its own, batches padded, one forward per batch, then
    `postprocess(outputs, index, text, encoding)` per text (`encoding` the padded batch)."""

    accepts = "a non-empty string or a non-empty list of strings"
    buckets_sequences = True

    def preprocess(self, item: Any, **params: Any) -> Row:
        if not isinstance(item, str) or not item:
            raise InputError(f"{self.task_name} takes {self.accepts}, got {item!r}.")
        encoding = self.tokenizer(
            item,
            truncation=True,
            return_tensors="np",
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        return {k: np.asarray(v) for k, v in encoding.items()}

    @abstractmethod
    def postprocess(
        self, outputs: dict[str, np.ndarray], index: int, text: str, encoding: Any, **kwargs: Any
    ) -> Any:
        """The answer for text `index` of the batch, from the model's outputs as numpy."""
