"""The engine's compute precision: which dtype the models run in, chosen from what the device does natively.

`auto` picks bf16 where the hardware computes it fast (CUDA GPUs of compute capability 8.0 or newer; CPUs with AMX
tiles), fp16 on older CUDA GPUs, and fp32 elsewhere. CPUs with AVX512-BF16 but no AMX get fp32: measured on such a
CPU (an AMD EPYC, SAM2.1-tiny at 512 px, `autotrack bench`), bf16 autocast ran the whole frame 3x slower than fp32.
Apple MPS gets fp32 too (not measured to help).
Reduced precision runs the models under `torch.autocast`, so matrix products and convolutions run in 16 bits while
normalisations, softmax and everything outside the models stay float32. torch is imported only when a precision is
resolved, so the command line can list the names without loading it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from autotrack.errors import InputError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def check_precision(precision: str) -> None:
    """Refuse an unknown precision name with a one-line error."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def compute_dtype(precision: str) -> torch.dtype:
    """The torch dtype of "fp32", "bf16" or "fp16"."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has AMX tiles, where bf16 matrix products beat fp32 (AVX512-BF16 alone was slower)."""
    import torch

    return torch.cpu._is_amx_tile_supported()


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision that runs on `device`: `precision` itself, or for "auto" the fastest native one."""
    import torch

    check_precision(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp16"
    if device.type == "cpu" and cpu_has_fast_bf16():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str):
    """A context that runs the models in `precision` ("fp32", "bf16" or "fp16") on `device`."""
    import torch

    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=compute_dtype(precision))
