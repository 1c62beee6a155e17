"""Model registry: SAM2 model names -> weight files, where they are looked for, and where they come from.

A name such as `sam2.1_t` resolves to a file, looked for in this order:
1. `$AUTOTRACK_WEIGHTS` (a folder), then `./weights/`, then the cache `~/.cache/autotrack/`, under either
   ultralytics' file name (`sam2.1_t.pt`) or Meta's official one (`sam2.1_hiera_tiny.pt`);
2. otherwise ultralytics downloads its file on first use into the cache.
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


@dataclass(frozen=True)
class ModelSpec:
    """One SAM2 variant: `version` is "2" or "2.1", `size` one of t, s, b, l."""

    name: str
    version: str
    size: str

    @property
    def ultralytics_file(self) -> str:
        return f"{self.name}.pt"

    @property
    def meta_file(self) -> str:
        prefix = "sam2.1" if self.version == "2.1" else "sam2"
        return f"{prefix}_hiera_{_SIZES[self.size]}.pt"

    @property
    def urls(self) -> list[str]:
        return [f"{ULTRALYTICS_RELEASE}/{self.ultralytics_file}", f"{META_RELEASES[self.version]}/{self.meta_file}"]


MODELS = {
    f"{prefix}_{size}": ModelSpec(f"{prefix}_{size}", version, size)
    for prefix, version in (("sam2", "2"), ("sam2.1", "2.1"))
    for size in _SIZES
}


def get_spec(name: str) -> ModelSpec:
    """Look a model name up; accepts `sam2.1_t` or `sam2.1_t.pt`."""
    spec = MODELS.get(name.removesuffix(".pt"))
    if spec is None:
        raise WeightsError(f"unknown SAM2 model {name!r}; choose one of {', '.join(MODELS)}")
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
        f"SAM2 weights for {spec.name!r} not found and cannot be downloaded (no network). "
        f"Put {spec.ultralytics_file} or {spec.meta_file} in one of: {dirs}. "
        f"Get it from {spec.urls[0]} or {spec.urls[1]}"
    )


def resolve_weights(name: str, weights: str | Path | None = None) -> Path:
    """Return the weight file for model `name`: `weights` if given, else a local file, else a download."""
    spec = get_spec(name)
    if weights is not None:
        return check_checkpoint(weights)
    local = find_local(name)
    if local is not None:
        return local
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(spec.urls[0]):
        raise WeightsError(_missing_message(spec))
    from ultralytics.utils.downloads import attempt_download_asset

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    target = CACHE_DIR / spec.ultralytics_file
    path = Path(attempt_download_asset(target))
    if not path.is_file():
        raise WeightsError(_missing_message(spec))
    return path


def check_checkpoint(path: str | Path) -> Path:
    """`path` if it is a readable file that looks like a PyTorch checkpoint (a zip archive, as `torch.save` writes,
    or a legacy pickle), without loading it; WeightsError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as error:
        raise WeightsError(f"cannot read weights file {path}: {error.strerror or error}") from None
    if head != b"PK\x03\x04" and not head.startswith(b"\x80"):
        raise WeightsError(f"{path} is not a PyTorch checkpoint (a .pt/.pth file written by torch.save)")
    return path


def load_state_dict(path: Path) -> dict:
    """Read a checkpoint saved by ultralytics (a bare state_dict) or by Meta (`{"model": state_dict}`)."""
    import torch  # heavy: only when a file is really loaded

    check_checkpoint(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt files
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
        raise WeightsError(f"cannot read weights file {path}: {reason}") from error
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    return checkpoint


def find_local(name: str) -> Path | None:
    """The model's file if it is already on this machine, else None (never downloads)."""
    spec = get_spec(name)
    for folder in search_dirs():
        for file in (spec.ultralytics_file, spec.meta_file):
            if (folder / file).is_file():
                return folder / file
    return None


def resolve_detector(weights: str) -> str:
    """The YOLO weights to load for `weights`: "random" or a model yaml as given; a file that exists; a file name
    found in `search_dirs()`; else the name itself, which ultralytics downloads on first use.

    Raises WeightsError, within seconds and before anything loads, for a missing path, a file that is not a
    checkpoint, or a name that is nowhere here when the network cannot be reached.
    """
    if weights == "random" or weights.endswith((".yaml", ".yml")):
        return weights
    path = Path(weights)
    if path.is_file():
        return str(check_checkpoint(path))
    hint = "for a smoke run without weights use --detector random"
    if path.parent != Path("."):
        raise WeightsError(f"detector weights file not found: {path} ({hint})")
    for folder in search_dirs():
        if (folder / path.name).is_file():
            return str(check_checkpoint(folder / path.name))
    url = f"{ULTRALYTICS_RELEASE}/{path.name}"
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(url):
        dirs = ", ".join(str(d) for d in search_dirs())
        raise WeightsError(f"detector weights {path.name!r} not found and cannot be downloaded (no network). "
                           f"Put {path.name} in one of: {dirs}. Get it from {url}; {hint}")
    return weights
