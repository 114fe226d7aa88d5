"""rosetta's logging controls, named as users of transformers expect them.

```python
from rosetta import logging
logging.set_verbosity_info()        # or _error / _warning / _debug, or set_verbosity(logging.INFO)
logger = logging.get_logger(__name__)
logging.disable_progress_bar()      # rosetta's bars and huggingface_hub's download bars
```

Every rosetta module logs under the "rosetta" logger, so its level governs all of them. Records still
propagate to the root logger (an application's own handlers, and pytest's, see them); rosetta's own
stderr handler prints only while the root logger has no handler, so a message is never printed twice.
Environment: ROSETTA_VERBOSITY (error, warning, info, debug, critical) sets the starting level;
ROSETTA_DISABLE_PROGRESS_BAR=1 starts with progress bars off. This module imports nothing of rosetta.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from logging import CRITICAL, DEBUG, ERROR, FATAL, INFO, NOTSET, WARN, WARNING  # noqa: F401  (re-exported)

__all__ = [
    "CRITICAL", "DEBUG", "ERROR", "FATAL", "INFO", "NOTSET", "WARN", "WARNING",
    "get_logger", "get_verbosity", "set_verbosity", "set_verbosity_debug", "set_verbosity_error",
    "set_verbosity_info", "set_verbosity_warning", "disable_progress_bar", "enable_progress_bar",
    "is_progress_bar_enabled",
]  # fmt: skip

LIBRARY_LOGGER = "rosetta"
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR, "critical": CRITICAL}
_TRUE = {"1", "on", "yes", "true"}

_lock = threading.Lock()
_handler: logging.Handler | None = None
_configured = False
_progress_bars = os.environ.get("ROSETTA_DISABLE_PROGRESS_BAR", "").lower() not in _TRUE


def _library_logger() -> logging.Logger:
    """The "rosetta" logger, set up once: the ROSETTA_VERBOSITY level and a stderr handler if needed."""
    global _configured, _handler
    logger = logging.getLogger(LIBRARY_LOGGER)
    with _lock:
        if not _configured:
            _configured = True
            env = os.environ.get("ROSETTA_VERBOSITY", "").lower()
            if env:
                if env not in _LEVELS:
                    logger.warning("ROSETTA_VERBOSITY=%r is not one of %s; ignored.", env, ", ".join(_LEVELS))
                else:
                    logger.setLevel(_LEVELS[env])
        if _handler is None:
            _handler = logging.StreamHandler(sys.stderr)
            _handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            _handler.addFilter(lambda record: not logging.getLogger().handlers)  # root took over: stay quiet
            logger.addHandler(_handler)
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    """The logger `name` (a module's `__name__`), or the library's "rosetta" logger."""
    _library_logger()
    return logging.getLogger(name or LIBRARY_LOGGER)


def get_verbosity() -> int:
    """The level rosetta logs at, as an int (`rosetta.logging.WARNING` == 30 unless changed)."""
    return _library_logger().getEffectiveLevel()


def set_verbosity(verbosity: int) -> None:
    """Log rosetta's messages from `verbosity` up (`rosetta.logging.INFO`, ... or the int)."""
    _library_logger().setLevel(verbosity)


def set_verbosity_debug() -> None:
    set_verbosity(DEBUG)


def set_verbosity_info() -> None:
    set_verbosity(INFO)


def set_verbosity_warning() -> None:
    set_verbosity(WARNING)


def set_verbosity_error() -> None:
    set_verbosity(ERROR)


def disable_progress_bar() -> None:
    """Turn off rosetta's progress bars, and huggingface_hub's download bars with them."""
    global _progress_bars
    _progress_bars = False
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()


def enable_progress_bar() -> None:
    """Turn rosetta's progress bars (and huggingface_hub's) back on."""
    global _progress_bars
    _progress_bars = True
    from huggingface_hub.utils import enable_progress_bars

    enable_progress_bars()


def is_progress_bar_enabled() -> bool:
    """Whether rosetta shows progress bars: code that draws one asks this first."""
    return _progress_bars
