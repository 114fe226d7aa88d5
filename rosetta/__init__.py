"""rosetta: pretrained transformers that run natively in PyTorch, TensorFlow/Keras and JAX/Flax.

Importing rosetta imports no framework: every public name is resolved on first use, and a
framework is imported only when one of its classes is.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Names that do not live in a model package: name -> module.
_CORE_NAMES: dict[str, str] = {
    "PretrainedConfig": "rosetta.core.configuration",
    "ModelOutput": "rosetta.core.outputs",
    "AutoConfig": "rosetta.core.registry",
    "AutoTokenizer": "rosetta.core.registry",
    "AutoImageProcessor": "rosetta.core.registry",
    "AutoFeatureExtractor": "rosetta.core.registry",
    "AutoProcessor": "rosetta.core.registry",
    "PreTrainedModel": "rosetta.backends.torch.modeling_utils",
    "TFPreTrainedModel": "rosetta.backends.tf.modeling_tf_utils",
    "FlaxPreTrainedModel": "rosetta.backends.flax.modeling_flax_utils",
    "errors": "rosetta.core.errors",
    "logging": "rosetta.logging",
}
_MODULE_NAMES = ("errors", "logging")  # names that are modules, not attributes of one

# The rest of the public API outside the model packages: name -> module.
_EXTRA_NAMES: dict[str, str] = {
    "pipeline": "rosetta.pipelines",
    "Trainer": "rosetta.backends.torch.trainer",
    "TrainingArguments": "rosetta.backends.torch.training_args",
    "PreTrainedTokenizer": "rosetta.core.tokenization",
    "TrainerCallback": "rosetta.backends.torch.trainer_callback",
    "TrainerControl": "rosetta.backends.torch.trainer_callback",
    "TrainerState": "rosetta.backends.torch.trainer_callback",
    "EarlyStoppingCallback": "rosetta.backends.torch.trainer_callback",
    "ProgressCallback": "rosetta.backends.torch.trainer_callback",
    "PrinterCallback": "rosetta.backends.torch.trainer_callback",
    "DefaultFlowCallback": "rosetta.backends.torch.trainer_callback",
    "TensorBoardCallback": "rosetta.backends.torch.trainer_callback",
    "EvalPrediction": "rosetta.backends.torch.trainer_utils",
    "set_seed": "rosetta.backends.torch.trainer_utils",
    "get_scheduler": "rosetta.backends.torch.trainer_utils",
    "default_data_collator": "rosetta.data.data_collator",
    "DefaultDataCollator": "rosetta.data.data_collator",
    "DataCollatorWithPadding": "rosetta.data.data_collator",
    "DataCollatorForLanguageModeling": "rosetta.data.data_collator",
    "DataCollatorForTokenClassification": "rosetta.data.data_collator",
    "GenerationConfig": "rosetta.core.generation_config",
    "TextStreamer": "rosetta.core.generation_utils",
    "TextIteratorStreamer": "rosetta.core.generation_utils",
}


def _lookup(name: str) -> str | None:
    if name in _CORE_NAMES:
        return _CORE_NAMES[name]
    if name in _EXTRA_NAMES:
        return _EXTRA_NAMES[name]
    from .core import registry

    if name in registry.AUTO_MODEL_CLASSES:
        return "rosetta.core.registry"
    return registry.public_names().get(name)


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first use (a missing framework says which extra to install)."""
    if name.startswith("__"):
        raise AttributeError(name)
    module = _lookup(name)
    if module is None:
        raise AttributeError(f"module 'rosetta' has no attribute {name!r}")
    from .core.registry import import_module

    value = import_module(module, what=name)
    if name not in _MODULE_NAMES:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    from .core import registry

    names = set(globals()) | set(_CORE_NAMES) | set(_EXTRA_NAMES) | set(registry.AUTO_MODEL_CLASSES)
    return sorted(names | set(registry.public_names()))
