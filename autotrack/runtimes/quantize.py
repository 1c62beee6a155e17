"""int8 post-training quantization of an OpenVINO graph with NNCF, calibrated on recorded inputs of the graph."""

from __future__ import annotations

from pathlib import Path

import nncf
import numpy as np
import openvino


def quantize_graph(xml: Path, samples: list[tuple[np.ndarray, ...]]) -> str:
    """Quantize the float32 OpenVINO graph `xml` to int8 (weights and activations, NNCF's default rules: on
    EdgeTAM's image encoder they kept the masks closer to fp32's than its transformer rules did), its activation
    ranges taken over all of `samples` (each the graph's inputs, in order); writes `<stem>_int8.xml` beside it,
    removes the float32 graph and returns the new name."""
    quantized = nncf.quantize(openvino.Core().read_model(str(xml)), nncf.Dataset(samples), subset_size=len(samples))
    target = xml.with_name(f"{xml.stem}_int8.xml")
    openvino.save_model(quantized, str(target), compress_to_fp16=False)
    xml.unlink()
    xml.with_suffix(".bin").unlink()
    return target.name
