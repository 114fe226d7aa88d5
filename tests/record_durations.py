"""Writes tests/file_durations.json from a pytest JUnit XML report: each test file's summed seconds.

`make test-durations` runs the suite with `--junitxml` and then this. The conftest hands files out longest
first (`pytest_collection_modifyitems`), so a refresh after a file grows keeps the two workers finishing
together. Usage: python tests/record_durations.py REPORT.xml
"""

from __future__ import annotations

import collections
import json
import pathlib
import sys
import xml.etree.ElementTree as ElementTree

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "file_durations.json"


def test_file(classname: str) -> str | None:
    """`tests.models.bert.test_modeling_bert[.TestClass]` -> `tests/models/bert/test_modeling_bert.py`."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = pathlib.Path(*parts[:end]).with_suffix(".py")
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return None


def main(report: str) -> None:
    seconds: collections.Counter[str] = collections.Counter()
    for case in ElementTree.parse(report).iter("testcase"):
        path = test_file(case.get("classname", ""))
        if path is not None:
            seconds[path] += float(case.get("time", 0))
    durations = {path: round(total, 1) for path, total in sorted(seconds.items())}
    OUTPUT.write_text(json.dumps(durations, indent=1) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(durations)} files, {sum(durations.values()):.0f} s summed")


if __name__ == "__main__":
    main(sys.argv[1])
