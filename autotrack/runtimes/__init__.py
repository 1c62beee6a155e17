"""Runtimes: the model's per-frame stages from exported graphs (OpenVINO, ONNX Runtime) instead of PyTorch.

    autotrack track clip.mp4 --sam edgetam --imgsz 512 --runtime openvino          # exports into the cache once
    autotrack export --sam edgetam --imgsz 512 --format openvino exported/          # or ahead of time
    autotrack track clip.mp4 --sam edgetam --imgsz 512 --runtime openvino --sam-weights exported/

A runtime runs the heavy stages (`autotrack.runtimes.stages`) from graphs and leaves the rest of a frame (memory
selection, Kalman scoring, object pointers) to the engine, the same Python code for every runtime
(`autotrack.runtimes.parts.GraphParts`). This module is the registry: which runtimes exist, the package each needs
and the folder formats each reads; it imports neither package.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

from autotrack.errors import AutotrackError

TORCH = "torch"


class RuntimeUnavailable(AutotrackError, ImportError):
    """A runtime's package is not installed; the message says what to install."""


@dataclass(frozen=True)
class Runtime:
    """A graph runtime: its name (`sam.runtime`), the Python package it needs, the extra that installs it, and the
    export formats whose folders it runs (the first is the one it exports to)."""

    name: str
    package: str
    extra: str
    formats: tuple[str, ...]


RUNTIMES = {
    "openvino": Runtime("openvino", "openvino", "openvino", ("openvino", "onnx")),
    "onnxruntime": Runtime("onnxruntime", "onnxruntime", "onnx", ("onnx",)),
}
EXPORTER = ("onnx", "onnxscript")  # torch.export's ONNX exporter writes through them
FORMATS = ("openvino", "onnx")  # what `autotrack export --format` writes; ONNX is the step every format goes through


def get_runtime(name: str) -> Runtime:
    """The graph runtime `name`, its package installed; a one-line error saying what to install otherwise."""
    runtime = RUNTIMES[name]
    missing = [package for package in (runtime.package, *EXPORTER) if find_spec(package) is None]
    if missing:
        raise RuntimeUnavailable(f"--runtime {name} needs {', '.join(missing)}: "
                                 f"pip install \"autotrack[{runtime.extra}]\"")
    return runtime


def runtime_of_format(fmt: str) -> Runtime:
    """The runtime that exports to and runs folders of format `fmt` ("openvino" or "onnx")."""
    return next(runtime for runtime in RUNTIMES.values() if runtime.formats[0] == fmt)
