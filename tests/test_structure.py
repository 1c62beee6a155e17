"""The shape of the code and the command line's error contract: imports point down, user errors are one line, bugs
are reported as bugs with their traceback saved."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

import autotrack.cli.app as cli_app
from autotrack.cli import main
from autotrack.cli.options import OPTIONS
from autotrack.eval.synthetic import make_scenario, write_scenario

PACKAGE = Path(__file__).resolve().parents[1] / "autotrack"


# Each part of the package by layer: a module imports only from its own part or from lower layers (lazy imports
# inside functions count too), so dependencies point one way: cli -> runners -> pipeline -> parts -> engine -> base.
LAYERS = {
    "errors": 0, "quiet": 0,
    "types": 1, "device": 1, "weights": 1, "config": 1, "motion": 1, "paths": 1,
    "cluster": 1,  # joining a Ray cluster (batch --ray, serve --ray)
    "autotrack": 2, "engine": 2,  # the package's own __init__: the public names (types, errors; the rest lazily)
    "reid": 2,  # appearance galleries for re-identification (config, numpy); the identity manager uses them
    "models": 3, "sources": 3, "points": 3, "identity": 3, "sinks": 3,
    "prompters": 4, "runtimes": 4,  # runtimes: the engine's heavy stages from exported graphs
    "pipeline": 5,
    "eval": 6, "batch": 6, "serve": 6, "advice": 6,
    "bench": 7,
    "cli": 8,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (lazy imports inside functions count too); for
    `from package import name`, the module `package.name` when it is one."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                         for a in node.names)
    return names


def part_of(module: str) -> str:
    """The part of the package a module belongs to: `autotrack.engine.memory` -> `engine`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "autotrack"


def test_only_the_cli_package_imports_click_or_the_cli():
    outside = [path for path in PACKAGE.rglob("*.py") if "cli" not in path.relative_to(PACKAGE).parts[:1]]
    assert len(outside) > 30  # the scan sees the library
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path)
                                              if m == "click" or m.startswith(("click.", "autotrack.cli")))
        for path in outside
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_every_part_of_the_package_has_a_layer():
    assert {part_of(module) for module in MODULES} == set(LAYERS)


def test_imports_point_down_the_layers():
    wrong = []
    for module, path in MODULES.items():
        part = part_of(module)
        for imported in imported_modules(path):
            if imported.startswith("autotrack") and part_of(imported) != part:
                if LAYERS[part_of(imported)] >= LAYERS[part]:
                    wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_no_module_takes_part_in_an_import_cycle():
    graph = {module: {m for m in imported_modules(path) if m in MODULES and m != module}
             for module, path in MODULES.items()}
    cycles = []
    for start in graph:  # a depth-first walk from each module back to itself
        stack, seen = [(start, [start])], set()
        while stack:
            module, trail = stack.pop()
            for nxt in graph[module]:
                if nxt == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


def test_the_engine_knows_no_model_library_and_no_family_by_name():
    for path in (PACKAGE / "engine").glob("*.py"):
        wrong = sorted(m for m in imported_modules(path) if m.startswith(("ultralytics", "transformers", "timm")))
        assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"
    branches = [f"{path.relative_to(PACKAGE)}:{n}" for path in PACKAGE.rglob("*.py")
                for n, line in enumerate(path.read_text().splitlines(), 1) if "family ==" in line]
    assert branches == []


def test_the_config_imports_none_of_the_parts_it_configures():
    """config.py sits below the parts it configures: it names their choices itself, so it imports none of them."""
    mine = {m for m in imported_modules(PACKAGE / "config.py") if m.startswith("autotrack")}
    assert mine <= {"autotrack.errors"}, mine


def test_each_shared_option_is_declared_once():
    """Every command that takes a shared option takes the one of the table: same flags, type, default and help."""
    commands = {name: main.commands[name] for name in ("track", "batch", "serve", "bench")}
    commands["eval run"] = main.commands["eval"].commands["run"]
    seen = {}
    for command_name, command in commands.items():
        for param in command.params:
            if param.name in OPTIONS:
                seen.setdefault(param.name, {})[command_name] = (
                    tuple(param.opts), param.type.name, param.default, param.multiple, param.help)
    assert set(seen["imgsz"]) == set(commands) and set(seen["sets"]) == set(commands)
    assert set(seen) == set(OPTIONS)  # track, batch and serve take the whole table
    for name, declared in seen.items():
        assert len(set(declared.values())) == 1, (name, declared)


def small_clip(tmp_path: Path) -> Path:
    return write_scenario(make_scenario("crossing", n_frames=4, size=(160, 120), seed=0), tmp_path).video


def test_a_bug_is_reported_as_a_bug_with_its_traceback_saved(tmp_path, monkeypatch):
    from autotrack.engine.engine import EngineSession

    def broken_step(self, frame, prompts=None):
        raise RuntimeError("shape")

    monkeypatch.setattr(EngineSession, "step", broken_step)
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
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "imgsz" in lines[0], result.output
    assert not (tmp_path / "logs").exists()


def test_every_package_folder_is_a_regular_package():
    """A folder of modules without `__init__.py` is a namespace package, which a wheel built with setuptools'
    package finder leaves out: the installed library would miss it."""
    missing = sorted(str(folder.relative_to(PACKAGE)) for folder in {path.parent for path in PACKAGE.rglob("*.py")}
                     if not (folder / "__init__.py").exists())
    assert missing == []
