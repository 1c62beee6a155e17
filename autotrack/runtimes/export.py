"""Export a model's stages as graphs into a folder: ONNX first (torch's exporter, dynamic axes for the number of
objects, memory tokens, pointer tokens and prompt points), then the runtime's own format; plus the torch weights of
the cheap stages left to Python and a manifest.

An int8 export (OpenVINO only) quantizes the stages of `INT8_STAGES` with NNCF, calibrated on a clip
(`autotrack.runtimes.calibrate`), and records in the manifest how far its masks agree with fp32's on that clip.

A folder is written next to its destination under a temporary name and renamed when complete, so an interrupted
export leaves no folder that looks whole; the destination must not exist or be empty (nothing is overwritten).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from autotrack.engine.parts import ModelParts
from autotrack.runtimes import runtime_of_format
from autotrack.runtimes.calibrate import Calibration, TorchStages, agreement, track_masks
from autotrack.runtimes.manifest import (
    WEIGHTS,
    ExportError,
    Manifest,
    package_versions,
    read_manifest,
)
from autotrack.runtimes.parts import graph_engine
from autotrack.runtimes.stages import STAGES, StageSpec, stage_specs

OPSET = 18
INT8_STAGES = ("image_encoder",)  # where int8 was measured to help (docs/runtimes.md); memory attention was not


def weights_checksum(model: torch.nn.Module) -> str:
    """sha256 of a model's weights (names, shapes and values), whatever file or seed they came from."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_destination(folder: Path) -> None:
    """A one-line error unless `folder` is new or an empty folder: an export never writes among other files."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ExportError(f"{folder} exists and is not an empty folder: export into a new folder")


def check_int8(fmt: str, precision: str, calibrated: bool) -> None:
    """One line unless int8 and a calibration clip come together, for OpenVINO's format."""
    if precision == "int8" and fmt != "openvino":
        raise ExportError("int8 is exported for OpenVINO only: --format openvino")
    if precision == "int8" and not calibrated:
        raise ExportError("--precision int8 needs a clip to calibrate on: --calibrate VIDEO")
    if calibrated and precision != "int8":
        raise ExportError("--calibrate is for int8 exports: add --precision int8")


def export_stages(parts: ModelParts, family: str, model: str, imgsz: int, fmt: str, precision: str,
                  folder: Path, calibration: Calibration | None = None) -> Manifest:
    """Write every stage of `parts` (float32, on the CPU) as `fmt` graphs ("onnx" or "openvino") into `folder`,
    with `weights.pt` and `manifest.json`; returns the manifest. Precision int8 takes a `calibration` clip."""
    check_int8(fmt, precision, calibration is not None)
    check_destination(folder)
    with staged_folder(folder) as partial:
        specs = stage_specs(parts, imgsz)
        for stage in STAGES:
            export_onnx(specs[stage], partial / f"{stage}.onnx")
        torch.save(parts.model.state_dict(), partial / WEIGHTS)
        manifest = Manifest("onnx", family, model, imgsz, precision, weights_checksum(parts.model),
                            {stage: f"{stage}.onnx" for stage in STAGES},
                            versions=package_versions("torch", "onnx"))
        manifest.write(partial)
        if fmt != "onnx":
            manifest = convert_export(partial, fmt)
        if calibration is not None:
            manifest = quantize_export(partial, parts, specs, model, imgsz, calibration)
    return manifest


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """A hidden folder beside `folder` (new, or empty) to write into, renamed to `folder` when the block ends
    without error and removed otherwise: an interrupted export leaves no folder that looks whole."""
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        if folder.exists():
            folder.rmdir()  # empty: a non-empty one fails here rather than being overwritten
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def convert_export(folder: Path, fmt: str) -> Manifest:
    """Convert an ONNX export folder's graphs, in place, to format `fmt`; returns its new manifest."""
    from autotrack.runtimes.backends import save_graph

    manifest = read_manifest(folder)
    runtime = runtime_of_format(fmt)
    manifest.stages = {stage: save_graph(runtime.name, folder / name, manifest.precision)
                       for stage, name in manifest.stages.items()}
    manifest.format = fmt
    manifest.versions.update(package_versions(runtime.package))
    manifest.write(folder)
    return manifest


def quantize_export(folder: Path, parts: ModelParts, specs: dict[str, StageSpec], model: str, imgsz: int,
                    calibration: Calibration) -> Manifest:
    """Quantize the `INT8_STAGES` of OpenVINO export `folder` (float32 graphs of `specs`) to int8 in place,
    calibrated on the inputs each receives while the torch stages track `calibration`; the manifest records the
    int8 stages and the agreement of the int8 graphs' masks with the torch stages' on that clip."""
    from autotrack.runtimes.backends import open_graphs
    from autotrack.runtimes.quantize import quantize_graph

    reference = TorchStages(specs)
    expected = track_masks(graph_engine(parts, reference, model, imgsz), calibration)
    manifest = read_manifest(folder)
    for stage in INT8_STAGES:
        manifest.stages[stage] = quantize_graph(folder / manifest.stages[stage], reference.inputs[stage])
    manifest.int8_stages = list(INT8_STAGES)
    manifest.versions.update(package_versions("nncf"))
    int8 = graph_engine(parts, open_graphs("openvino", folder, manifest, "cpu", "int8"), model, imgsz)
    manifest.agreement = agreement(expected, track_masks(int8, calibration))
    manifest.write(folder)
    return manifest


def export_onnx(spec: StageSpec, path: Path) -> None:
    """One stage as an ONNX file, through torch.export (torch's supported exporter) in the stage's mode: given the
    program, torch.onnx does not first try the other mode (a failed trace costs as much as a good one)."""
    dynamic = {name: {axis: torch.export.Dim.DYNAMIC for axis in spec.dynamic[name]} if name in spec.dynamic else None
               for name in spec.input_names}
    with torch.inference_mode(False):
        inputs = tuple(tensor.clone() for tensor in spec.inputs)  # the examples were made in inference mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's advice on its own internals
        program = torch.export.export(spec.module, inputs, dynamic_shapes=dynamic, strict=spec.strict)
        torch.onnx.export(program, inputs, str(path), input_names=list(spec.input_names),
                          output_names=list(spec.output_names), dynamo=True, external_data=False,
                          opset_version=OPSET, verbose=False)
