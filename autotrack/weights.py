"""Model registry: model names -> weight files, where they are looked for, and where they come from.

A name such as `sam2.1_t` or `edgetam` resolves to a file, looked for in this order:
1. `$AUTOTRACK_WEIGHTS` (a folder), then `./weights/`, then the cache `~/.cache/autotrack/`, under any of the
   model's file names: for SAM2 ultralytics' (`sam2.1_t.pt`) or Meta's (`sam2.1_hiera_tiny.pt`); for EdgeTAM
   Meta's `edgetam.pt` or a transformers checkpoint folder `EdgeTAM-hf/` (`model.safetensors` inside); for SAM 3
   a transformers checkpoint folder `sam3/` (facebook/sam3's files);
2. otherwise the first file is downloaded on first use into the cache (SAM2 by ultralytics, EdgeTAM from Meta's
   GitHub repository). SAM 3 is gated (Meta's SAM License, accepted on Hugging Face), so it is never downloaded
   here: the error says how to get it.
The text encoders of YOLOE's text prompts (`mobileclip_blt.ts`, ...) are found the same way (`resolve_text_encoder`).
A learned re-ID embedder's timm weights are timm's own, from the Hugging Face cache or hub, or a file given by path
(`resolve_timm_weights`).
When a file is missing and the network cannot be reached, `WeightsError` says which file is missing, where to put
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


HF_HUB = "https://huggingface.co"
SAM3_URLS = ("https://huggingface.co/facebook/sam3",)  # detector and tracker in one checkpoint, about 3.4 GB
SAM3_GATE = ("gated by Meta's SAM License: accept it on https://huggingface.co/facebook/sam3, log in (`hf auth "
             "login`), then `hf download facebook/sam3 --local-dir weights/sam3` (about 3.4 GB)")


@dataclass(frozen=True)
class ModelSpec:
    """One model: its family ("sam2", "edgetam" or "sam3"), SAM2's `version` ("2", "2.1") and `size` (t, s, b, l;
    EdgeTAM counts as t, SAM 3's ViT-L as l), the file names it is found under (the first one is downloaded) and
    where to get them. `ultralytics_predictor`: ultralytics' SAM2VideoPredictor runs the model from the same file (it
    is built with ultralytics' SAM2 builders), so `autotrack bench` measures the engine against that predictor on
    this model. `gate`: how to get a model whose licence must be accepted first; such a model is never downloaded
    here."""

    name: str
    family: str
    version: str
    size: str
    files: tuple[str, ...]
    urls: tuple[str, ...]
    ultralytics_predictor: bool
    gate: str | None = None


# YOLOE's text model (the `text_model` of its checkpoint) -> the TorchScript text encoder ultralytics releases
TEXT_ENCODERS = {"mobileclip:blt": "mobileclip_blt.ts", "mobileclip2:b": "mobileclip2_b.ts"}


def _sam2_spec(prefix: str, version: str, size: str) -> ModelSpec:
    name = f"{prefix}_{size}"
    meta = f"{prefix}_hiera_{_SIZES[size]}.pt"
    urls = (f"{ULTRALYTICS_RELEASE}/{name}.pt", f"{META_RELEASES[version]}/{meta}")
    return ModelSpec(name, "sam2", version, size, (f"{name}.pt", meta), urls, ultralytics_predictor=True)


_SAM2 = [_sam2_spec(prefix, version, size) for prefix, version in (("sam2", "2"), ("sam2.1", "2.1")) for size in _SIZES]
_EDGETAM = ModelSpec("edgetam", "edgetam", "1", "t", ("edgetam.pt", "EdgeTAM-hf"), EDGETAM_URLS,
                     ultralytics_predictor=False)
_SAM3 = ModelSpec("sam3", "sam3", "3", "l", ("sam3/",), SAM3_URLS, ultralytics_predictor=False, gate=SAM3_GATE)
MODELS = {spec.name: spec for spec in [*_SAM2, _EDGETAM, _SAM3]}


def get_spec(name: str) -> ModelSpec:
    """Look a model name up; accepts `sam2.1_t`, `sam2.1_t.pt`, `edgetam` or `sam3`."""
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
    why = "gated, so not downloaded here" if spec.gate else "cannot be downloaded (no network)"
    return (
        f"weights for {spec.name!r} not found and {why}. "
        f"Put {' or '.join(spec.files)} in one of: {dirs}. "
        f"Get it from {' or '.join(spec.urls)}" + (f"; {spec.gate}" if spec.gate else "")
    )


def resolve_weights(name: str, weights: str | Path | None = None) -> Path:
    """Return the weight file (or checkpoint folder) for model `name`: `weights` if given, else a local file, else a
    download."""
    spec = get_spec(name)
    if weights is not None:
        path = Path(weights)
        if path.is_dir():  # a transformers checkpoint folder; the model builder checks what is inside
            return path
        return check_checkpoint(path)
    local = find_local(name)
    if local is None and spec.gate:
        raise WeightsError(_missing_message(spec))
    return local if local is not None else _download(spec.files[0], spec.urls[0], _missing_message(spec))


def resolve_text_encoder(text_model: str) -> Path:
    """The text encoder file of a YOLOE model whose checkpoint names `text_model` (e.g. "mobileclip:blt"): a local
    file (the search folders, then ultralytics' weights folder), else a download into the cache."""
    from ultralytics.utils import SETTINGS

    file = TEXT_ENCODERS.get(text_model)
    if file is None:
        raise WeightsError(f"unknown YOLOE text model {text_model!r}; known: {', '.join(TEXT_ENCODERS)}")
    for folder in (*search_dirs(), Path(SETTINGS["weights_dir"])):
        if (folder / file).is_file():
            return folder / file
    url = f"{ULTRALYTICS_RELEASE}/{file}"
    dirs = ", ".join(str(d) for d in search_dirs())
    return _download(file, url, f"YOLOE text encoder {file} not found and cannot be downloaded (no network). "
                                f"Put {file} in one of: {dirs}. Get it from {url}")


def resolve_timm_weights(name: str, weights: str | None) -> str | None:
    """The weights of timm model `name` (a learned re-ID embedder): "random" as given; a checkpoint file given by
    path (`.safetensors`, or one `torch.save` wrote), checked; None for timm's pretrained weights, which timm reads
    from the Hugging Face cache or downloads. WeightsError, within seconds, when timm has no pretrained weights for
    `name`, or they are not cached and the hub cannot be reached."""
    if weights == "random":
        return weights
    if weights is not None:
        path = Path(weights)
        if path.suffix == ".safetensors" and not path.is_file():
            raise WeightsError(f"weights file not found: {path}")
        return str(path if path.suffix == ".safetensors" else check_checkpoint(path))
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    config = get_pretrained_cfg(name)
    if config is None or not config.hf_hub_id:
        raise WeightsError(f"timm has no pretrained weights for {name!r} on the Hugging Face hub: set "
                           f"reid.embedder_weights to a checkpoint file")
    files = ("model.safetensors", "pytorch_model.bin", *([config.hf_hub_filename] if config.hf_hub_filename else []))
    if any(isinstance(try_to_load_from_cache(config.hf_hub_id, file), str) for file in files):
        return None
    url = f"{HF_HUB}/{config.hf_hub_id}"
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(url):
        raise WeightsError(f"weights for timm model {name!r} not found and cannot be downloaded (no network). "
                           f"Get model.safetensors from {url} and set reid.embedder_weights to its path")
    return None


def _download(file: str, url: str, missing: str) -> Path:
    """Download `file` from `url` into the cache (ultralytics' release assets through its asset downloader);
    `WeightsError(missing)` when there is no network."""
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(url):
        raise WeightsError(missing)
    from ultralytics.utils.downloads import attempt_download_asset, safe_download

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    if url.startswith(ULTRALYTICS_RELEASE):
        path = Path(attempt_download_asset(CACHE_DIR / file))
    else:
        path = Path(safe_download(url, file=CACHE_DIR / file, unzip=False))
    if not path.is_file():
        raise WeightsError(missing)
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
        for file in spec.files:
            if (folder / file).exists():
                return folder / file
    return None


def is_sam3_detector(weights: str) -> bool:
    """Whether detector weights name SAM 3's concept detector: `sam3`, or a checkpoint folder (YOLO's are files)."""
    return weights == "sam3" or Path(weights).is_dir()


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
    if path.parent != Path("."):
        raise WeightsError(f"detector weights file not found: {path}")
    for folder in search_dirs():
        if (folder / path.name).is_file():
            return str(check_checkpoint(folder / path.name))
    url = f"{ULTRALYTICS_RELEASE}/{path.name}"
    if os.environ.get("AUTOTRACK_OFFLINE") or not _reachable(url):
        dirs = ", ".join(str(d) for d in search_dirs())
        raise WeightsError(f"detector weights {path.name!r} not found and cannot be downloaded (no network). "
                           f"Put {path.name} in one of: {dirs}. Get it from {url}")
    return weights
