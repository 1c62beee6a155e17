"""OpenVINO: the exported ONNX graphs converted to OpenVINO's format, compiled for a device (the CPU, or an Intel
GPU when asked for and present) in a precision: fp32, or bf16 / fp16 as the plugin's inference precision (weights
and inputs stay float32; the plugin computes in the lower precision where it can)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import openvino

from autotrack.runtimes.graphs import Graphs

logger = logging.getLogger(__name__)
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}  # int8: what is not int8


def save_graph(onnx_file: Path, precision: str) -> str:
    """Convert the ONNX file to OpenVINO's format beside it (float16 weights for bf16 and fp16, else float32) and
    remove it."""
    target = onnx_file.with_suffix(".xml")
    openvino.save_model(openvino.convert_model(str(onnx_file)), str(target),
                        compress_to_fp16=precision in ("bf16", "fp16"))
    onnx_file.unlink()
    return target.name


def device_name(device: str, available: list[str]) -> str:
    """OpenVINO's device for `device`: "GPU" for a GPU asked for ("GPU", "cuda", ...) when OpenVINO has one, else
    the CPU, saying so in one line."""
    if device.lower() in ("auto", "cpu"):
        return "CPU"
    if any(name.startswith("GPU") for name in available):
        return "GPU"
    logger.warning(f"OpenVINO has no GPU device here (devices: {', '.join(available)}): running on the CPU")
    return "CPU"


class OpenVINOGraphs(Graphs):
    """One compiled model per stage, and an infer request per stage and thread: sessions on several compute threads
    (`autotrack serve`) run the same compiled models, and an infer request serves one call at a time."""

    def __init__(self, files: dict[str, Path], device: str, precision: str) -> None:
        core = openvino.Core()
        name = device_name(device, core.available_devices)
        config = {"INFERENCE_PRECISION_HINT": INFERENCE_PRECISION[precision]}
        self._models = {stage: core.compile_model(str(path), name, config) for stage, path in files.items()}
        self._local = threading.local()  # this thread's infer requests, by stage

    def run(self, stage: str, *inputs: np.ndarray) -> list[np.ndarray]:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = {name: model.create_infer_request() for name, model in self._models.items()}
            self._local.requests = requests
        results = requests[stage].infer(list(inputs))
        return [results[output] for output in self._models[stage].outputs]
