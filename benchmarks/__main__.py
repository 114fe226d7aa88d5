"""`python -m benchmarks [--only NAME ...] [--list] [--dry-run]`: run the benchmark modules' main() in turn.

Every benchmark states its setup first (threads, the import rule, our and the peers' versions;
see benchmarks/common.py). `--dry-run` imports every module and checks it has a main(), running nothing.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import benchmarks


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="+", choices=names(), metavar="NAME", help=f"run only these ({', '.join(names())})"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--dry-run", action="store_true", help="import every benchmark and check it, run nothing"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    selected = options.only or names()
    if options.list:
        print("\n".join(selected))
        return
    sys.argv = sys.argv[:1]  # each module's own argument parser sees no argument: its defaults
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        if not callable(getattr(module, "main", None)):
            raise SystemExit(f"benchmarks.{name} has no main()")
        if options.dry_run:
            print(f"{name}: ok")
            continue
        print(f"\n# {name}")
        module.main()


if __name__ == "__main__":
    main()
