"""The `rosetta` command: dispatches to one module per subcommand in rosetta/commands/.

Each subcommand module has `add_parser(subparsers)`, which registers its parser and sets `func`
(taking the parsed args, returning an exit code), and imports its heavy parts only when it runs.
An error a user can cause is one line on stderr and exit code 2 (`rosetta --debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .core.errors import RosettaError

COMMANDS = ("convert", "verify", "env", "modular", "generate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rosetta", description="rosetta: one checkpoint, three frameworks.")
    parser.add_argument("--version", action="version", version=f"rosetta {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        importlib.import_module(f"rosetta.commands.{command}").add_parser(subparsers)
    return parser


def one_line(err: BaseException) -> str:
    """The error's message on one line (a multi-line message, e.g. a list of keys, joined)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return " ".join(lines) or type(err).__name__


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
        print(f"rosetta {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
