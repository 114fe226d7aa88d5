"""`rosetta modular` and `rosetta modular --check`: writing, idempotence, and every way a check fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rosetta.cli import main
from rosetta.modular import check, generate, write
from rosetta.modular import paths as modular_paths

from .fake_bert import add_modular


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["modular", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_generation_is_deterministic_and_idempotent(roberta: Path):
    first = generate(roberta)
    assert generate(roberta) == first
    report = write([roberta.parent])
    assert sorted(status for _, status in report) == ["written"] * 4
    assert write([roberta.parent]) == [(path, "unchanged") for path, _ in report]
    assert generate(roberta) == first  # the written files (now on disk) do not change what is generated
    assert check([roberta.parent]) == []


def test_write_then_check_through_the_cli(roberta: Path, capsys: pytest.CaptureFixture):
    code, out, _ = run_cli(capsys, str(roberta.parent))
    assert code == 0 and out.count("written") == 4
    code, out, _ = run_cli(capsys, "--check", str(roberta.parent))
    assert code == 0
    assert "1 modular source checked" in out


def test_check_catches_a_hand_edit(roberta: Path, capsys: pytest.CaptureFixture):
    write([roberta])
    modeling = roberta.parent / "modeling_roberta.py"
    modeling.write_text(
        modeling.read_text().replace("self.padding_idx = config.pad_token_id", "self.padding_idx = 0")
    )
    problems = check([roberta])
    assert [(p.file, p.reason) for p in problems] == [("modeling_roberta.py", "differs")]
    code, out, err = run_cli(capsys, "--check", str(roberta))
    assert code == 1
    assert "--- " in out and "+++ " in out
    assert (
        "-        self.padding_idx = 0\n" in out
        and "+        self.padding_idx = config.pad_token_id\n" in out
    )
    assert "python -m rosetta modular " in err and str(Path("models") / "roberta") in err


def test_check_catches_a_missing_file(roberta: Path, capsys: pytest.CaptureFixture):
    write([roberta])
    (roberta.parent / "modeling_tf_roberta.py").unlink()
    assert [(p.file, p.reason) for p in check([roberta])] == [("modeling_tf_roberta.py", "missing")]
    code, out, err = run_cli(capsys, "--check", str(roberta.parent))
    assert code == 1
    assert "modeling_tf_roberta.py is missing" in out
    assert "To regenerate, run: python -m rosetta modular" in err


def test_check_catches_a_stale_generated_file(roberta: Path):
    write([roberta])
    roberta.write_text(
        roberta.read_text().split("class TFRobertaEmbeddings")[0]
    )  # no TF or Flax classes left
    stale = [(p.file, p.reason) for p in check([roberta]) if p.reason == "stale"]
    assert stale == [("modeling_tf_roberta.py", "stale"), ("modeling_flax_roberta.py", "stale")]
    assert sorted(generate(roberta)) == ["configuration_roberta.py", "modeling_roberta.py"]
    write([roberta])
    assert not (roberta.parent / "modeling_tf_roberta.py").exists()
    assert check([roberta]) == []


def test_an_error_in_the_generator_fails_the_check(roberta: Path, capsys: pytest.CaptureFixture):
    write([roberta])
    roberta.write_text(roberta.read_text() + "\n\nclass RobertaBroken(:\n")
    problems = check([roberta])
    assert [p.reason for p in problems] == ["error"]
    assert "modular_roberta.py" in problems[0].message
    code, out, _ = run_cli(capsys, "--check", str(roberta))
    assert code == 1 and "modular_roberta.py" in out


def test_an_unexpected_exception_fails_the_check(roberta: Path, monkeypatch: pytest.MonkeyPatch):
    from rosetta.modular import generator

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(generator, "flatten_class", boom)
    problems = check([roberta])
    assert [p.reason for p in problems] == ["error"]
    assert "modular_roberta.py" in problems[0].message and "RuntimeError: kaboom" in problems[0].message


def test_no_modular_sources(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    code, out, _ = run_cli(capsys, "--check", str(tmp_path))
    assert code == 0 and "0 modular sources checked" in out
    monkeypatch.setattr(modular_paths, "default_models_folder", lambda: tmp_path)
    code, out, _ = run_cli(capsys, "--check")
    assert code == 0 and "0 modular sources checked" in out


def test_a_path_that_is_not_a_modular_source(tmp_path: Path, capsys: pytest.CaptureFixture):
    other = tmp_path / "x.py"
    other.write_text("")
    code, _, err = run_cli(capsys, "--check", str(other))
    assert code == 2 and "not a modular source" in err


def test_python_dash_m_entry_point(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "rosetta", "modular", "--check", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "0 modular sources checked" in result.stdout


def test_sources_are_found_under_a_tree(models: Path, roberta: Path):
    other = add_modular(
        models,
        "camembert",
        "from ..bert.modeling_bert import BertModel\n\n\nclass CamembertModel(BertModel):\n    pass\n",
    )
    assert modular_paths.find_modular_files([models]) == sorted([roberta, other])
    write([models])
    assert check([models]) == []


def test_check_catches_a_generated_file_left_after_its_source_is_deleted(
    roberta: Path, capsys: pytest.CaptureFixture
):
    write([roberta])
    roberta.unlink()
    problems = check([roberta.parent.parent])
    assert sorted((p.file, p.reason) for p in problems) == sorted(
        (name, "orphaned")
        for name in (
            "configuration_roberta.py",
            "modeling_roberta.py",
            "modeling_tf_roberta.py",
            "modeling_flax_roberta.py",
        )
    )
    assert "modular_roberta.py, which does not exist" in problems[0].message
    code, out, err = run_cli(capsys, "--check", str(roberta.parent))
    assert code == 1 and "modeling_roberta.py is generated from modular_roberta.py" in out
    assert "To regenerate" not in err  # regenerating cannot bring the source back
    (roberta.parent / "modeling_roberta.py").write_text("# written by hand now\n")
    assert "modeling_roberta.py" not in [p.file for p in check([roberta.parent])]
