"""Compiled graphs of a runtime, as `GraphParts` calls them: a stage's name and its inputs as numpy arrays in, its
outputs as numpy arrays out. The runtimes' packages are imported only here, when a runtime is used."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from autotrack.runtimes.manifest import Manifest


class Graphs(ABC):
    """One compiled graph per stage."""

    @abstractmethod
    def run(self, stage: str, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run stage `stage` on its inputs (in the order of `autotrack.runtimes.stages`' input names)."""


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
