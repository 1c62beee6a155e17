"""Model registry: model names -> weight files, where they are looked for, and where they come from.

A name such as `sam2.1_t` or `edgetam` resolves to a file, looked for in this order:
1. `$AUTOTRACK_WEIGHTS` (a folder), then `./weights/`, then the cache `~/.cache/autotrack/`, under any of the
   model's file names: for SAM2 ultralytics' (`sam2.1_t.pt`) or Meta's (`sam2.1_hiera_tiny.pt`); for EdgeTAM
   Meta's `edgetam.pt` or a transformers checkpoint folder `EdgeTAM-hf/` (`model.safetensors` inside);
2. otherwise the first file is downloaded on first use into the cache (SAM2 by ultralytics, EdgeTAM from Meta's
   GitHub repository).
When the file is missing and the network cannot be reached, `WeightsError` says which file is missing, where to put
it and where to get it, within seconds.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from autotrack.errors import AutotrackError

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autotrack"
ULTRALYTICS_RELEASE = "https://github.com/ultralytics/assets/releases/download/v8.4.0"
META_RELEASES = {
    "2": "https://dl.fbaipublicfiles.com/segment_anything_2/072824",
    "2.1": "https://dl.fbaipublicfiles.com/segment_anything_2/092824",
}
_SIZES = {"t": "tiny", "s": "small", "b": "base_plus", "l": "large"}


class WeightsError(AutotrackError, RuntimeError):
    """A weight file is missing or unreadable; the message says what to do."""


EDGETAM_URLS = (
    "https://github.com/facebookresearch/EdgeTAM/raw/main/checkpoints/edgetam.pt",  # Meta's, also in its HF space
    "https://huggingface.co/yonigozlan/EdgeTAM-hf",  # transformers format, as transformers' EdgeTAM docs name it
)


@dataclass(frozen=True)
class ModelSpec:
    """One model: its family ("sam2" or "edgetam"), SAM2's `version` ("2", "2.1") and `size` (t, s, b, l; EdgeTAM
    counts as t), the file names it is found under (the first one is downloaded) and where to get them."""

    name: str
    family: str
    version: str
    size: str
    files: tuple[str, ...]
    urls: tuple[str, ...]


def _sam2_spec(prefix: str, version: str, size: str) -> ModelSpec:
    name = f"{prefix}_{size}"
    meta = f"{prefix}_hiera_{_SIZES[size]}.pt"
    urls = (f"{ULTRALYTICS_RELEASE}/{name}.pt", f"{META_RELEASES[version]}/{meta}")
    return ModelSpec(name, "sam2", version, size, (f"{name}.pt", meta), urls)


_SAM2 = [_sam2_spec(prefix, version, size) for prefix, version in (("sam2", "2"), ("sam2.1", "2.1")) for size in _SIZES]
MODELS = {spec.name: spec for spec in [*_SAM2, ModelSpec("edgetam", "edgetam", "1", "t", ("edgetam.pt", "EdgeTAM-hf"),
                                                         EDGETAM_URLS)]}


def get_spec(name: str) -> ModelSpec:
    """Look a model name up; accepts `sam2.1_t`, `sam2.1_t.pt` or `edgetam`."""
    spec = MODELS.get(name.removesuffix(".pt"))
    if spec is None:
        raise WeightsError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return spec


def search_dirs() -> list[Path]:
    """Folders searched for weight files, in order."""
    dirs = [Path("weights"), CACHE_DIR]
    if os.environ.get("AUTOTRACK_WEIGHTS"):
        dirs.insert(0, Path(os.environ["AUTOTRACK_WEIGHTS"]))
    return dirs


def _reachable(url: str, timeout: float = 3.0) -> bool:
    host = urlparse(url).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _missing_message(spec: ModelSpec) -> str:
    dirs = ", ".join(str(d) for d in search_dirs())
    return (
        f"weights for {spec.name!r} not found and cannot be downloaded (no network). "
        f"Put {' or '.join(spec.files)} in one of: {dirs}. "
        f"Get it from {' or '.join(spec.urls)}"
    )


def resolve_weights(name: str, weights: str | Path | None = None) -> Path:
    """Return the weight file (or checkpoint folder) for model `name`: `weights` if given, else a local file, else a
    download."""
    spec = get_spec(name)
    if weights is not None:
        path = Path(weights)
        if not path.exists():
            raise WeightsError(f"weights file not found: {path}")
        return path
    local = find_local(name)
    if local is not None:
        return local
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(spec.urls[0]):
        raise WeightsError(_missing_message(spec))
    from ultralytics.utils.downloads import attempt_download_asset, safe_download

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    target = CACHE_DIR / spec.files[0]
    if spec.family == "sam2":
        path = Path(attempt_download_asset(target))
    else:
        path = safe_download(spec.urls[0], file=target, unzip=False)
    if not path.is_file():
        raise WeightsError(_missing_message(spec))
    return path


def load_state_dict(path: Path) -> dict:
    """Read a checkpoint saved by ultralytics (a bare state_dict) or by Meta (`{"model": state_dict}`)."""
    import torch  # heavy: only when a file is really loaded

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt files
        raise WeightsError(f"cannot read weights file {path}: {error}") from error
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    return checkpoint


def find_local(name: str) -> Path | None:
    """The model's file if it is already on this machine, else None (never downloads)."""
    spec = get_spec(name)
    for folder in search_dirs():
        for file in spec.files:
            if (folder / file).exists():
                return folder / file
    return None
