"""The engine's compute precision: which dtype the models run in, chosen from what the device does natively.

`auto` picks bf16 where the hardware computes it natively (CUDA GPUs of compute capability 8.0 or newer; CPUs with
AVX512-BF16 or AMX tiles), fp16 on older CUDA GPUs, and fp32 elsewhere (Apple MPS included: not measured to help).
On a CPU with AVX512-BF16 and no AMX (an AMD EPYC, 2 cores), bf16 ran SAM2.1-tiny 1.8x as fast as fp32 at 512 px
and 1.9x at 1024 px (`autotrack bench`); that needs attention as plain matrix products
(`memory_attention.scaled_dot_product_attention`), since torch's fused CPU attention kernel is no faster in bf16 than
in fp32.
Reduced precision runs the models under `torch.autocast`, so matrix products and convolutions run in 16 bits while
normalisations and everything outside the models stay float32; in bf16, SAM2's image encoder and memory attention
run in bf16 outright instead (see `autotrack.models.sam2.image_encoder.SAM2ImageEncoder`). The mask decoder always runs in
float32. torch is imported only when a precision is
resolved, so the command line can list the names without loading it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from autotrack.config import PRECISIONS
from autotrack.errors import InputError

if TYPE_CHECKING:
    import torch


def check_precision(precision: str) -> None:
    """Refuse an unknown precision name with a one-line error."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def compute_dtype(precision: str) -> torch.dtype:
    """The torch dtype of "fp32", "bf16" or "fp16"."""
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX tiles), as torch's cpuinfo reads its flags."""
    import torch

    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision that runs on `device`: `precision` itself, or for "auto" the fastest native one."""
    import torch

    check_precision(precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp16"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str):
    """A context that runs the models in `precision` ("fp32", "bf16" or "fp16") on `device`."""
    import torch

    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=compute_dtype(precision))
