"""The manifest of an exported folder: what was exported, from which weights, by which versions; and the one-line
errors for running a folder exported for another model, input size, precision or version."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from autotrack import __version__
from autotrack.errors import InputError
from autotrack.runtimes import get_runtime

MANIFEST = "manifest.json"
WEIGHTS = "weights.pt"  # the torch weights of the stages left to Python (object pointers, memory encodings)


class ExportError(InputError):
    """An exported folder does not fit the run, or cannot be written; the message says what differs."""


@dataclass
class Manifest:
    """What `manifest.json` of an exported folder holds."""

    format: str  # "openvino" or "onnx"
    family: str
    model: str
    imgsz: int
    precision: str
    weights_sha256: str  # of the model's weights as exported (`weights_checksum`)
    stages: dict[str, str]  # stage -> graph file in the folder
    autotrack: str = __version__
    versions: dict[str, str] = field(default_factory=dict)  # the packages that wrote it
    int8_stages: list[str] = field(default_factory=list)  # precision int8: the stages quantized (the rest fp32)
    agreement: dict[str, object] = field(default_factory=dict)  # int8: mask IoU with fp32 on the calibration clip

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n")


def is_export(folder: str | Path | None) -> bool:
    """Whether `folder` is an exported folder (it holds a manifest)."""
    return folder is not None and (Path(folder) / MANIFEST).is_file()


def read_manifest(folder: Path) -> Manifest:
    """The manifest of `folder`; a one-line error when it is unreadable or not autotrack's."""
    try:
        return Manifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise ExportError(f"{folder / MANIFEST} is not a readable autotrack export manifest: {error}") from None


def check_manifest(manifest: Manifest, folder: Path, model: str, imgsz: int, formats: tuple[str, ...],
                   precision: str) -> None:
    """One line naming the first difference between the folder's export and this run (`precision` "auto": any)."""
    wanted = {"model": model, "imgsz": imgsz, "autotrack": __version__}
    if precision != "auto":
        wanted["precision"] = precision
    for key, value in wanted.items():
        if getattr(manifest, key) != value:
            raise ExportError(f"{folder} was exported for {key} {getattr(manifest, key)}, this run has {value}: "
                              "export again (autotrack export) or point --sam-weights elsewhere")
    if manifest.format not in formats:
        raise ExportError(f"{folder} holds {manifest.format} graphs, which this runtime does not read "
                          f"({', '.join(formats)})")


def check_export(runtime: str, model: str, weights: str | None, imgsz: int, precision: str) -> None:
    """When `weights` is an exported folder: one line if runtime `runtime` cannot run it for this model, size and
    precision. Reads only the manifest."""
    if is_export(weights):
        folder = Path(weights)
        check_manifest(read_manifest(folder), folder, model, imgsz, get_runtime(runtime).formats, precision)


def package_versions(*packages: str) -> dict[str, str]:
    """The installed versions of `packages` (those present)."""
    found = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
