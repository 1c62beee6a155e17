"""The one device resolver: what "auto" means, which devices this machine has, and how ultralytics spells a device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotrack.errors import AutotrackError

if TYPE_CHECKING:
    import torch


class DeviceError(AutotrackError, ValueError):
    """A device this machine does not have; the message lists the ones it has."""


def available_devices() -> list[str]:
    """The device names this machine can run on: auto, cpu, each CUDA GPU (cuda:0, ...) and mps where present."""
    import torch

    cuda = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return ["auto", "cpu", *cuda, *(["mps"] if torch.backends.mps.is_available() else [])]


def resolve_device(device: str | None = "auto") -> torch.device:
    """"auto" (or None) picks CUDA, then Apple MPS, then the CPU; anything else is a torch device name that this
    machine has. A name torch does not know, a device type autotrack does not run on, or a device that is not here
    (`cuda:7` on a machine with one GPU, `mps` off a Mac) is a `DeviceError` saying which devices are available."""
    import torch  # heavy: only when a model is built, or just before

    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unknown device {device!r}; available here: {', '.join(available_devices())}")
    here = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (resolved.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }[resolved.type]
    if not here:
        raise DeviceError(f"device {device!r} is not on this machine; available here: "
                          f"{', '.join(available_devices())}")
    return resolved


def ultralytics_device(device: str | None = "auto") -> str:
    """The resolved device as ultralytics' `device=` argument takes it: "cpu", "mps" or a CUDA index ("0")."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return str(resolved.index or 0)
    return resolved.type
