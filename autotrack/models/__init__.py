"""Model families behind the engine: load a model once, open a session per video or stream.

    model = load_engine("edgetam", weights="random", imgsz=512, device="cpu")   # once per process
    camera_1, camera_2 = model.session(), model.session()                      # one per stream, sharing weights
    states = camera_1.step(frame, {1: Prompt(box=[40, 40, 120, 160])})

`SAM2Tracker` is the same engine as one session with its own model, as earlier versions offered it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from autotrack.device import resolve_device
from autotrack.engine.engine import EngineModel, EngineSession
from autotrack.engine.memory import memory_policy
from autotrack.engine.precision import compute_dtype, resolve_precision
from autotrack.errors import AutotrackError, InputError
from autotrack.models.registry import family_of, motion_weight

if TYPE_CHECKING:
    import torch

    from autotrack.engine.parts import ModelParts


# A rough model of the memory a run needs, to refuse an input size that cannot fit before it takes the machine's
# memory: the weights and what the engine holds besides activations, plus activations in proportion to the input's
# pixels (attention runs in blocks or fused kernels, so nothing grows faster). Measured peaks over the loaded model,
# fp32, one object, on a CPU: SAM2.1-tiny 70 MB at 256 px, 200 MB at 512 px, 680 MB at 1024 px (650-1070 bytes a
# pixel, the most at the smallest size); EdgeTAM 290 MB at 1024 px. Rounded up.
BYTES_PER_PIXEL = 1000
BASE_BYTES = {"t": 2**29, "s": 2**29, "b": 2**30, "l": 2**31}  # by model size (EdgeTAM counts as t)


class FamilyUnavailable(AutotrackError, ImportError):
    """A model family's optional packages are not installed (the message names the extra to install)."""


def check_imgsz(model: str, imgsz: int) -> None:
    """One line when `imgsz` is not an input size of `model`'s family; loads nothing."""
    family_of(model).check_imgsz(imgsz)


def memory_needed(model: str, imgsz: int) -> int:
    """About how many bytes a run of `model` at input size `imgsz` needs (see `BYTES_PER_PIXEL`)."""
    from autotrack.weights import get_spec

    return BASE_BYTES[get_spec(model).size] + BYTES_PER_PIXEL * imgsz * imgsz


def check_memory(model: str, imgsz: int, device: torch.device) -> None:
    """One line, before the model loads, when a run at `imgsz` would need more memory than `device` has free (a
    GPU's free memory; elsewhere the machine's available memory)."""
    import psutil

    needed = memory_needed(model, imgsz)
    if device.type == "cuda":
        import torch

        free, where = torch.cuda.mem_get_info(device)[0], f"{device} has"
    else:
        free, where = psutil.virtual_memory().available, "this machine has"
    if needed > free:
        raise InputError(f"imgsz {imgsz} needs about {_gb(needed)} of memory for {model} and {where} {_gb(free)} "
                         f"free; choose a smaller --imgsz (the pipelines use 512 or 1024)")


def _gb(size: int) -> str:
    return f"{size / 2**30:.1f} GB" if size < 2**40 else f"{size / 2**40:.3g} TB"


def build_parts(model: str, weights: str | Path | None, imgsz: int, device: torch.device,
                dtype: torch.dtype) -> ModelParts:
    """`model`'s family's `build`; one line naming the extra to install when the family's packages are missing."""
    family = family_of(model)
    try:
        return family.build(model, weights, imgsz, device, dtype)
    except ImportError as error:
        if family.extra is None:
            raise
        raise FamilyUnavailable(f"{family.title} needs the {family.extra} extra ({error.name} is missing): "
                                f'pip install "autotrack[{family.extra}]"') from None


def load_engine(model: str = "sam2.1_t", weights: str | Path | None = None, imgsz: int = 1024, device: str = "auto",
                precision: str = "auto", compile: bool = False) -> EngineModel:
    """Build model `model` (see `autotrack.weights.MODELS`) with its weights for square inputs of `imgsz`.

    weights: None resolves the model's file (see `autotrack.weights`), a path loads that file, "random" builds seeded
    random weights for tests and benchmarks (their object-score head is biased so masks are not blank; see the
    families' `build` modules). precision: "auto" (bf16 where the device computes it natively, fp16 on older CUDA
    GPUs, else fp32), "fp32", "bf16" or "fp16" (`autotrack.engine.precision`). compile: torch.compile the image
    encoder and memory attention (on a 2-core CPU in bf16 at 512 px it took 86 s and ran no faster than eager).
    """
    family = family_of(model)
    family.check_imgsz(imgsz)
    resolved = resolve_device(device)
    chosen = resolve_precision(precision, resolved)
    parts = build_parts(model, weights, imgsz, resolved, compute_dtype(chosen))
    if compile:
        parts.compile()
    return EngineModel(parts, family, imgsz, resolved, chosen, motion_weight(model))


class SAM2Tracker(EngineSession):
    """Segment and follow objects in a stream of frames with SAM2, EdgeTAM or SAM 3: one session with its own model.

    The arguments are `load_engine`'s (model, weights, imgsz, device, precision, compile) and
    `EngineModel.session`'s (memory, kalman, profile, embedding). To serve several streams with one copy of the
    weights, use `load_engine(...).session()` instead.

    Example:
        >>> tracker = SAM2Tracker("sam2.1_t", weights="random", imgsz=256)
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> states = tracker.step(frame, {1: Prompt(box=[40, 40, 120, 160])})
        >>> sorted(states)
        [1]
    """

    def __init__(
        self,
        model: str = "sam2.1_t",
        weights: str | Path | None = None,
        imgsz: int = 1024,
        device: str = "auto",
        memory: str = "motion-aware",
        kalman: bool = True,
        precision: str = "auto",
        compile: bool = False,
        profile: bool = False,
        embedding: str | None = None,
    ) -> None:
        memory_policy(memory)  # a bad name fails before the model loads
        super().__init__(load_engine(model, weights, imgsz, device, precision, compile), memory, kalman, profile,
                         embedding)
