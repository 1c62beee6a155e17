"""Every kind of console source (in this process, on a Ray actor) has all the console and its app use of a source:
`ConsoleSource` declares it, and each kind implements it."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

import autotrack.serve.app as app
from autotrack.serve.cameras import Camera
from autotrack.serve.modelsets import ModelSets
from autotrack.serve.scheduler import Scheduler
from autotrack.serve.source import ConsoleSource
from autotrack.serve.worker import RunOptions, SourceWorker

SERVE = Path(app.__file__).parent
CALLERS = ("app.py", "console.py", "host.py")  # the modules that use sources through the console
DECLARED = set(ConsoleSource.__abstractmethods__) | set(ConsoleSource.__annotations__)


def local(options: RunOptions, camera: Camera) -> ConsoleSource:
    return SourceWorker(camera, options, ModelSets(), Scheduler())


def remote(options: RunOptions, camera: Camera) -> ConsoleSource:
    pytest.importorskip("ray")
    from autotrack.serve.remote import RemoteSource

    return RemoteSource(camera, options, link=None)  # the link is only used by requests, none made here


@pytest.mark.parametrize("kind", [local, remote])
def test_each_kind_of_source_implements_every_method_and_attribute_of_the_interface(kind, tmp_path):
    options = RunOptions(pipeline="manual-sam2", overrides={"sam.weights": "random"}, output_dir=tmp_path)
    source = kind(options, Camera("a", "clip.mp4"))  # an abstract method left out fails here (TypeError)
    assert isinstance(source, ConsoleSource)
    missing = [name for name in ConsoleSource.__annotations__ if not hasattr(source, name)]
    assert missing == [] and len(ConsoleSource.__annotations__) >= 7
    assert source.id == "a" and source.source_dir == tmp_path / "a" and source.last_frame is None


def source_expression(node: ast.expr) -> bool:
    """Whether an expression of the callers is a source: a variable called `worker`, or what `_worker(...)`,
    `<console>.get(...)` and `<console>.add(...)` return (the console is `self` in console.py)."""
    if isinstance(node, ast.Name):
        return node.id == "worker"
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Name):
        return node.func.id == "_worker"
    if not (isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "add")):
        return False
    owner = node.func.value
    return (isinstance(owner, ast.Name) and owner.id == "self"
            or isinstance(owner, ast.Attribute) and owner.attr == "console"
            or isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "_console")


def used_by_callers() -> set[str]:
    """The methods and attributes the callers use of a source, and the controls the app calls by name (the values
    of its control route's `action`)."""
    used = set(typing.get_args(typing.get_type_hints(app.control_source)["action"]))
    for name in CALLERS:
        tree = ast.parse((SERVE / name).read_text())
        used.update(node.attr for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute) and source_expression(node.value))
    return used


def test_everything_the_callers_use_of_a_source_is_declared_by_the_interface():
    used = used_by_callers()
    assert {"add_prompt", "merge", "thumbnail", "pause", "channel", "jpeg", "source_dir", "sweep", "camera"} <= used
    assert used - DECLARED == set()
