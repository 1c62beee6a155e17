"""The runtimes' own modules, imported only when a runtime is used: converting an exported ONNX graph to a
runtime's format, and compiling a folder's graphs."""

from __future__ import annotations

from pathlib import Path

from autotrack.runtimes.graphs import Graphs
from autotrack.runtimes.manifest import Manifest


def save_graph(runtime: str, onnx_file: Path, precision: str) -> str:
    """Turn an exported ONNX file into runtime `runtime`'s format in its folder; returns the graph's file name."""
    if runtime == "openvino":
        from autotrack.runtimes.openvino import save_graph as save
    else:
        from autotrack.runtimes.onnxruntime import save_graph as save
    return save(onnx_file, precision)


def open_graphs(runtime: str, folder: Path, manifest: Manifest, device: str, precision: str) -> Graphs:
    """The folder's graphs compiled by runtime `runtime` for `device` ("auto", "cpu", "cuda", "GPU", ...) in
    `precision`."""
    files = {stage: folder / name for stage, name in manifest.stages.items()}
    if runtime == "openvino":
        from autotrack.runtimes.openvino import OpenVINOGraphs

        return OpenVINOGraphs(files, device, precision)
    from autotrack.runtimes.onnxruntime import OnnxRuntimeGraphs

    return OnnxRuntimeGraphs(files, device)
