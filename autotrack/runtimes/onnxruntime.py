"""ONNX Runtime: the exported ONNX graphs run as they are, on the CPU or, when asked for and present, on CUDA."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime

from autotrack.runtimes.graphs import Graphs

logger = logging.getLogger(__name__)
CPU = "CPUExecutionProvider"
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def save_graph(onnx_file: Path, precision: str) -> str:
    """The ONNX file is ONNX Runtime's format: kept as it is (float32)."""
    return onnx_file.name


def providers(device: str, available: list[str]) -> list[str]:
    """Execution providers for `device`: CUDA's (TensorRT's first) for a CUDA device when this ONNX Runtime has
    them, else the CPU's, saying so in one line."""
    if not device.startswith("cuda"):
        return [CPU]
    chosen = [name for name in GPU_PROVIDERS if name in available]
    if not chosen:
        logger.warning("ONNX Runtime has no CUDA provider here (pip install onnxruntime-gpu): running on the CPU")
    return [*chosen, CPU]


class OnnxRuntimeGraphs(Graphs):
    """One `InferenceSession` per stage."""

    def __init__(self, files: dict[str, Path], device: str) -> None:
        chosen = providers(device, onnxruntime.get_available_providers())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        self._sessions = {stage: onnxruntime.InferenceSession(str(path), options, providers=chosen)
                          for stage, path in files.items()}
        self._inputs = {stage: [item.name for item in session.get_inputs()] for stage, session in self._sessions.items()}

    def run(self, stage: str, *inputs: np.ndarray) -> list[np.ndarray]:
        return self._sessions[stage].run(None, dict(zip(self._inputs[stage], inputs)))
