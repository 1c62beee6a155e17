"""The one device resolver: what "auto" means, and how ultralytics spells a device."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | None = "auto") -> torch.device:
    """"auto" (or None) picks CUDA, then Apple MPS, then the CPU; anything else is a torch device name."""
    import torch  # heavy: only when a model is built

    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    return torch.device(device)


def ultralytics_device(device: str | None = "auto") -> str:
    """The resolved device as ultralytics' `device=` argument takes it: "cpu", "mps" or a CUDA index ("0")."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return str(resolved.index or 0)
    return resolved.type
