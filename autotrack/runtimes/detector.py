"""The YOLO detector on a graph runtime: exported once by ultralytics' own exporter (OpenVINO's format or ONNX) into
the export cache, beside the model's exports, for ultralytics' `YOLO` to load and run on OpenVINO or ONNX Runtime.

A cache folder is keyed by the weights' checksum, input size, format and precision, and written under a temporary
name and renamed when complete, as `autotrack.runtimes.export` writes the model's: an interrupted export is never
taken for a whole one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from autotrack.quiet import quiet_ultralytics
from autotrack.runtimes import get_runtime, load
from autotrack.runtimes.export import staged_folder, weights_checksum
from autotrack.runtimes.manifest import ExportError

logger = logging.getLogger(__name__)
CHECKPOINT = "detector.pt"  # the weights, saved into the folder being written for the exporter to read
EXPORTED = {"openvino": "detector_openvino_model", "onnx": "detector.onnx"}  # what ultralytics writes from it
EXPORT_OPTIONS = {"openvino": {}, "onnx": {"simplify": False}}  # simplifying needs onnxslim, which autotrack lacks
PRECISION = "fp32"  # of the graph's weights; OpenVINO's CPU plugin computes in its own default precision


def exported_detector(model_file: str, runtime: str, imgsz: int) -> str:
    """The export of YOLO weights `model_file` (a file, a name ultralytics downloads, or a model yaml: random
    weights, seeded so that every run has the same) at input size `imgsz` for graph runtime `runtime`, as a path
    `YOLO` loads: from the cache, exported into it on first use, saying so once. A one-line error when exporting
    fails."""
    fmt = get_runtime(runtime).formats[0]
    model = _yolo(model_file)
    name = f"{Path(model_file).stem}-{imgsz}-{fmt}-{PRECISION}-{weights_checksum(model.model)[:16]}"
    folder = load.EXPORTS_DIR / "detectors" / name
    if not folder.is_dir():
        logger.warning(f"exporting detector {model_file} at {imgsz} px for {runtime} into {folder} "
                       "(once: later runs reuse it)")
        _export(model, fmt, imgsz, folder)
    return str(folder / EXPORTED[fmt])


def _yolo(model_file: str):
    """`YOLO(model_file)`; a model yaml's random weights drawn from a fixed seed, so the cache finds them again."""
    from ultralytics import YOLO

    if not model_file.endswith((".yaml", ".yml")):
        return YOLO(model_file)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return YOLO(model_file)


def _export(model, fmt: str, imgsz: int, folder: Path) -> None:
    """Export `model` (an ultralytics `YOLO`) as `fmt` at `imgsz` into the new folder `folder`, on the CPU."""
    from ultralytics import YOLO

    try:
        with staged_folder(folder) as partial:
            model.save(partial / CHECKPOINT)  # ultralytics writes its export beside the weights it reads
            with quiet_ultralytics():
                YOLO(partial / CHECKPOINT).export(format=fmt, imgsz=imgsz, device="cpu", **EXPORT_OPTIONS[fmt])
            (partial / CHECKPOINT).unlink()
    except Exception as error:  # ultralytics raises several types; the first line says what went wrong
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"cannot export the detector for {fmt}: {message}") from error
