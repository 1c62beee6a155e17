"""The shape of the code and the command line's error contract: imports point down, user errors are one line, bugs
are reported as bugs with their traceback saved."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

import autotrack.cli.app as cli_app
from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario

PACKAGE = Path(__file__).resolve().parents[1] / "autotrack"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (lazy imports inside functions count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_cli_package_imports_click_or_the_cli():
    outside = [path for path in PACKAGE.rglob("*.py") if "cli" not in path.relative_to(PACKAGE).parts[:1]]
    assert len(outside) > 30  # the scan sees the library
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path)
                                              if m == "click" or m.startswith(("click.", "autotrack.cli")))
        for path in outside
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_the_library_never_imports_the_layers_above_it():
    """cli -> {batch, bench, eval} -> pipeline -> parts -> types: no part imports the pipeline or the runners."""
    above = ("autotrack.pipeline", "autotrack.batch", "autotrack.bench", "autotrack.eval")
    for folder in ("sources", "prompters", "points", "sam2", "motion", "sinks"):
        for path in (PACKAGE / folder).glob("*.py"):
            wrong = sorted(m for m in imported_modules(path) if m.startswith(above))
            assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"
    for name in ("types.py", "errors.py", "quiet.py", "identity.py", "config.py", "weights.py", "device.py"):
        wrong = sorted(m for m in imported_modules(PACKAGE / name) if m.startswith(above))
        assert not wrong, f"{name} imports {wrong}"


def small_clip(tmp_path: Path) -> Path:
    return write_scenario(make_scenario("crossing", n_frames=4, size=(160, 120), seed=0), tmp_path).video


def test_a_bug_is_reported_as_a_bug_with_its_traceback_saved(tmp_path, monkeypatch):
    from autotrack.sam2.engine import SAM2Tracker

    def broken_step(self, frame, prompts=None):
        raise RuntimeError("shape")

    monkeypatch.setattr(SAM2Tracker, "step", broken_step)
    monkeypatch.setattr(cli_app, "LOG_DIR", tmp_path / "logs")
    clip = small_clip(tmp_path)
    result = CliRunner().invoke(main, ["track", str(clip), "-p", "manual-sam2", "--sam-weights", "random",
                                       "--imgsz", "64", "--box", "10,10,60,60", "--mot", str(tmp_path / "o.txt")])
    assert result.exit_code == 1
    assert "this is a bug in autotrack (RuntimeError: shape)" in result.output
    assert "Traceback" not in result.output  # the traceback goes to the file, the screen gets the short story
    logs = list((tmp_path / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in result.output.replace("\n", "")
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: shape" in text and "broken_step" in text


def test_a_user_error_is_one_line_without_a_log(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_app, "LOG_DIR", tmp_path / "logs")
    clip = small_clip(tmp_path)
    result = CliRunner().invoke(main, ["track", str(clip), "-p", "manual-sam2", "--sam-weights", "random",
                                       "--imgsz", "100", "--box", "10,10,60,60"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: --imgsz must be a positive multiple of 32, got 100"]
    assert not (tmp_path / "logs").exists()
