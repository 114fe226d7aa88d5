"""The `rosetta` command: one subcommand per module, each importing its framework lazily.

Each subcommand module exposes `add_parser(subparsers)` which registers its parser and sets
`func` (taking the parsed args, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .core.errors import RosettaError

# subcommand -> module that defines add_parser
SUBCOMMANDS = {
    "convert": "rosetta.convert.cli",
    "verify": "rosetta.convert.verify",
    "env": "rosetta.commands.env",
    "modular": "rosetta.modular.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rosetta", description="rosetta: one checkpoint, three frameworks.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (RosettaError, OSError, ValueError) as err:
        if args.debug:
            raise
        print(f"rosetta {args.command}: error: {err}", file=sys.stderr)
        return 2
