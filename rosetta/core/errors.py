"""The exceptions a user of rosetta can see.

Each one subclasses both `RosettaError` (catch everything rosetta raises) and the builtin
that code written against Hugging Face already catches (`OSError` for files, `ValueError`
for bad values, `KeyError` never, since its message is printed as a repr).
"""

from __future__ import annotations


class RosettaError(Exception):
    """Base class of every error rosetta raises on purpose."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # OSError subclasses would otherwise print "[Errno ...]" from their constructor arguments.
        return self.message


class ConfigError(RosettaError, ValueError):
    """A configuration file or value is invalid (names the file and the field)."""


class UnknownModelTypeError(RosettaError, ValueError):
    """A `model_type` (or architecture) rosetta does not support."""

    def __init__(self, model_type: str, supported: list[str], where: str | None = None):
        self.model_type = model_type
        self.supported = sorted(supported)
        origin = f" (read from {where})" if where else ""
        super().__init__(
            f"Unknown model_type {model_type!r}{origin}. Supported model types: "
            f"{', '.join(self.supported)}. This rosetta cannot load it: use a checkpoint of a supported architecture, or a rosetta version that has this one."
        )


class MissingFileError(RosettaError, OSError):
    """A file that was needed is not where it was looked for."""

    def __init__(self, filename: str, where: str, revision: str | None = None, hint: str | None = None):
        self.filename = filename
        self.where = where
        self.revision = revision
        rev = f" at revision {revision!r}" if revision else ""
        msg = f"{filename!r} was not found in {where}{rev}."
        if hint:
            msg += f" {hint}"
        RosettaError.__init__(self, msg)


class RepositoryNotFoundError(RosettaError, OSError):
    """A Hub repository or revision that does not exist (or is not visible with this token)."""


class CheckpointError(RosettaError, OSError):
    """A checkpoint file is corrupt, truncated, in an unknown format or unsafe to load."""


class WeightsMismatchError(RosettaError, ValueError):
    """Checkpoint tensors do not fit the model; lists every offending key with both shapes."""

    def __init__(self, mismatched: list[tuple[str, tuple, tuple]], where: str = "the checkpoint"):
        self.mismatched = mismatched
        lines = [
            f"  {key}: checkpoint {tuple(ckpt)} vs model {tuple(model)}" for key, ckpt, model in mismatched
        ]
        super().__init__(
            f"{len(mismatched)} weight(s) in {where} have a shape that does not fit the model:\n"
            + "\n".join(lines)
            + "\nPass ignore_mismatched_sizes=True to re-initialise them, or fix the config."
        )


class InputError(RosettaError, ValueError):
    """Bad input to a model, tokenizer, processor or pipeline call."""


class ConversionError(RosettaError, ValueError):
    """A weight could not be mapped between the canonical and a framework's layout."""


class MissingFrameworkError(RosettaError, ImportError):
    """A class of a framework that is not installed was used; the message names the extra that installs it."""


class PathNotFoundError(RosettaError, FileNotFoundError):
    """A local path that was given (it looks like a path, not a Hub repo id) does not exist."""


class HubUnreachableError(RosettaError, ConnectionError):
    """The Hub could not be reached and the file needed is not in the local cache."""
