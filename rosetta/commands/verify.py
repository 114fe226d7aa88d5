"""`rosetta verify PATH`: run one checkpoint in every framework and report how far the outputs agree.

Exit code 0 when every difference is within --atol, 1 otherwise, 2 on errors. The verifier
(rosetta.verify) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Run a checkpoint through rosetta's torch, TF and Flax models (and Hugging Face transformers when it is "
    "installed and knows the architecture) on the same deterministic inputs, and compare every hidden state "
    "and logits output with the first framework's: max absolute and relative difference, KL divergence and "
    "top-k agreement. Exit code 0 when every difference is within --atol, 1 otherwise, 2 on errors."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="run a checkpoint in every framework and compare the outputs", description=DESCRIPTION
    )
    parser.add_argument("path", metavar="PATH", help="folder or Hub repo id of the checkpoint")
    parser.add_argument(
        "--frameworks",
        default=None,
        help="comma-separated, of torch, tf, flax, transformers (default: every one installed; the first is the reference)",
    )
    parser.add_argument(
        "--atol", type=float, default=1e-4, help="largest max-abs difference that passes (default: 1e-4)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write a Markdown section for a model card")
    parser.set_defaults(func=run)


def parse_frameworks(text: str) -> list[str]:
    from ..core.errors import InputError
    from ..verify.verifier import FRAMEWORKS, parse_framework

    names = [parse_framework(name) for name in text.split(",") if name.strip()]
    if not names:
        raise InputError(
            f"--frameworks {text!r} names none; use a comma-separated list of {', '.join(FRAMEWORKS)}."
        )
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    from ..verify import report as reports
    from ..verify.verifier import FRAMEWORKS, verify

    explicit = args.frameworks is not None
    frameworks = parse_frameworks(args.frameworks) if explicit else list(FRAMEWORKS)
    _check_before_frameworks(args.path)
    report = verify(args.path, frameworks, atol=args.atol, explicit=explicit)
    print(reports.format_table(report))
    if args.json:
        reports.write_json(report, args.json)
    if args.markdown:
        reports.write_markdown(report, args.markdown)
    sys.stdout.flush()
    return 0 if report.passed else 1


def _check_before_frameworks(path: str) -> None:
    """Read the config, then open the weights (every header and offset checked) and check that they can hold
    the config's sizes, before any framework is imported: a bad config or a corrupt or unsafe checkpoint is
    one named error in about a second, rather than one failure per framework, each after that framework's
    import."""
    from ..convert.formats import load_checkpoint
    from ..convert.loading import check_config_fits
    from ..core.registry import AutoConfig

    config = AutoConfig.from_pretrained(path)
    with load_checkpoint(path) as reader:
        shapes = {name: reader.shape(name) for name in reader}
    check_config_fits(config, shapes, path)
