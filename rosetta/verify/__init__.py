"""Cross-framework verification (`rosetta verify`) and the model card that lists what it confirmed.

Above the backends: models are looked up in the registry and run numpy in, numpy out, so this
package imports no backend module itself.
"""

from .model_card import model_card
from .report import format_markdown, format_table, write_json, write_markdown
from .verifier import FRAMEWORKS, Report, Result, compare_arrays, compare_logits, make_inputs, verify

__all__ = [
    "FRAMEWORKS",
    "Report",
    "Result",
    "compare_arrays",
    "compare_logits",
    "format_markdown",
    "format_table",
    "make_inputs",
    "model_card",
    "verify",
    "write_json",
    "write_markdown",
]
