"""Load a model whose heavy stages run on a graph runtime: from an exported folder (`sam.weights`), or from weights
exported on first use into the cache (keyed by the weights' checksum, input size, format and precision)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from autotrack.engine.engine import EngineModel
from autotrack.engine.precision import cpu_has_native_bf16
from autotrack.models import build_parts, load_engine
from autotrack.models.registry import family_of
from autotrack.runtimes import FORMATS, get_runtime, runtime_of_format
from autotrack.runtimes.backends import open_graphs
from autotrack.runtimes.calibrate import Calibration
from autotrack.runtimes.export import check_destination, check_int8, export_stages, weights_checksum
from autotrack.runtimes.manifest import (
    WEIGHTS,
    ExportError,
    Manifest,
    check_manifest,
    is_export,
    read_manifest,
)
from autotrack.runtimes.parts import graph_engine
from autotrack.weights import CACHE_DIR, resolve_weights

logger = logging.getLogger(__name__)
EXPORTS_DIR = CACHE_DIR / "exports"
# what each runtime computes in; int8: graphs quantized on a calibration clip (`autotrack export` only), fp32 around
PRECISIONS = {"openvino": ("fp32", "bf16", "fp16", "int8"), "onnxruntime": ("fp32",)}


def runtime_precision(runtime: str, precision: str) -> str:
    """The precision runtime `runtime` runs in: `precision`, or for "auto" bf16 on a CPU that computes it natively
    (OpenVINO), else fp32; a one-line error for one the runtime does not offer."""
    choices = PRECISIONS[runtime]
    if precision == "auto":
        return "bf16" if "bf16" in choices and cpu_has_native_bf16() else "fp32"
    if precision not in choices:
        raise ExportError(f"{runtime} runs graphs in {', '.join(choices)}, not {precision}")
    return precision


def load_exported(runtime: str, model: str, weights: str | Path | None, imgsz: int, device: str = "auto",
                  precision: str = "auto") -> EngineModel:
    """`model` at input size `imgsz` with its heavy stages on graph runtime `runtime` ("openvino", "onnxruntime"),
    from `weights`: an exported folder, or what `autotrack.models.load_engine` takes (then exported into the cache
    on first use, saying so once)."""
    formats = get_runtime(runtime).formats
    family = family_of(model)
    family.check_imgsz(imgsz)
    cpu = torch.device("cpu")
    if is_export(weights):
        folder = Path(weights)
        manifest = read_manifest(folder)
        check_manifest(manifest, folder, model, imgsz, formats, precision)
        parts = build_parts(model, "random", imgsz, cpu, torch.float32)
        parts.model.load_state_dict(exported_weights(folder))
        chosen = manifest.precision
    else:
        chosen = runtime_precision(runtime, precision)
        parts = build_parts(model, weights, imgsz, cpu, torch.float32)
        checksum = weights_checksum(parts.model)
        folder = EXPORTS_DIR / f"{model}-{imgsz}-{formats[0]}-{chosen}-{checksum[:16]}"
        if not is_export(folder):
            logger.warning(f"exporting {model} at {imgsz} px for {runtime} into {folder} (once: later runs reuse it)")
            export_stages(parts, family.name, model, imgsz, formats[0], chosen, folder)
        manifest = read_manifest(folder)
    return graph_engine(parts, open_graphs(runtime, folder, manifest, device, chosen), model, imgsz)


def exported_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The torch weights exported folder `folder` was exported from (`WEIGHTS`): the state of the parts its family
    built (EdgeTAM's image encoder re-parameterised), so they load into such parts, not into a freshly built model."""
    return torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)


def load_torch_reference(folder: str | Path, model: str, imgsz: int, device: str = "auto", precision: str = "auto",
                         compile: bool = False) -> EngineModel:
    """In PyTorch, the model exported folder `folder` was exported from: `load_engine`'s model with the folder's
    weights (`exported_weights`), its graphs unread; what the folder's runtime is compared with (`autotrack bench`).
    One line when the folder was exported for another model or input size."""
    folder = Path(folder)
    check_manifest(read_manifest(folder), folder, model, imgsz, FORMATS, "auto")
    engine = load_engine(model, "random", imgsz, device, precision, compile)
    engine.parts.model.load_state_dict(exported_weights(folder))
    return engine


def holds_random_weights(folder: str | Path) -> bool:
    """Whether exported folder `folder` was exported from its model's seeded random weights (`load_engine`'s
    "random"): builds that model once, on the CPU, to compare the weights' checksum with the manifest's."""
    manifest = read_manifest(Path(folder))
    parts = build_parts(manifest.model, "random", manifest.imgsz, torch.device("cpu"), torch.float32)
    return weights_checksum(parts.model) == manifest.weights_sha256


def export_model(model: str, weights: str | Path | None, imgsz: int, fmt: str, precision: str,
                 folder: Path, calibration: Calibration | None = None) -> Manifest:
    """`autotrack export`: `model` with `weights` at input size `imgsz` as `fmt` graphs ("openvino", "onnx") in
    `precision` into `folder`, a new or empty folder that is none of the inputs; int8 is calibrated on
    `calibration`."""
    check_int8(fmt, precision, calibration is not None)
    runtime = get_runtime(runtime_of_format(fmt).name)
    family = family_of(model)
    family.check_imgsz(imgsz)
    chosen = runtime_precision(runtime.name, precision)
    if weights is not None and weights != "random" and Path(folder).resolve() == Path(weights).resolve():
        raise ExportError(f"{folder} is the weights being exported: export into a new folder")
    check_destination(Path(folder))
    if weights != "random":
        resolve_weights(model, weights)  # a missing file fails before the model is built
    parts = build_parts(model, weights, imgsz, torch.device("cpu"), torch.float32)
    return export_stages(parts, family.name, model, imgsz, fmt, chosen, Path(folder), calibration)
