"""`rosetta modular [PATH ...] [--check]`: generate model files from their modular sources, or check them.

Only argparse is imported here; the generator (and libcst) load when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "modular",
        help="generate model files from modular_<arch>.py sources (or --check them)",
        description=(
            "Regenerate configuration_/modeling_/modeling_tf_/modeling_flax_<arch>.py (and preprocessing "
            "files) of every model folder with a modular_<arch>.py source. With --check, write nothing and "
            "fail when a committed file differs from what its source generates."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="modular sources, model folders or trees to search (default: every model of rosetta)",
    )
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on any difference"
    )
    parser.set_defaults(func=run)


def _plural(count: int) -> str:
    return f"{count} modular source{'' if count == 1 else 's'}"


def run(args: argparse.Namespace) -> int:
    from ..modular.check import check_sources, write

    if not args.check:
        for path, status in write(args.paths):
            print(f"{status:9} {path}")
        return 0
    count, problems = check_sources(args.paths)
    if not problems:
        print(f"{_plural(count)} checked" + (": generated files are up to date." if count else "."))
        return 0
    for problem in problems:
        print(problem)
    fixes = sorted({p.fix for p in problems if p.fix})
    print(f"{_plural(count)} checked: {len(problems)} problem(s).", file=sys.stderr)
    for fix in fixes:
        print(f"To regenerate, run: {fix}", file=sys.stderr)
    return 1
