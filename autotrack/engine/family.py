"""A model family as the engine sees it: the data and functions that differ between SAM2, EdgeTAM and their kin.

The engine reads a family only through a `Family` (found by model name in `autotrack.models.registry`): how big an
input may be, how pixels are normalised, how a box or clicks become prompt tokens, and how to build the model's
`ModelParts`. Nothing else in the engine knows which model it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autotrack.engine.parts import ModelParts
from autotrack.errors import InputError

# build(model name, weights, imgsz, device, compute dtype) -> the model's parts, on the device
BuildParts = Callable[[str, "str | None", int, torch.device, torch.dtype], ModelParts]


@dataclass(frozen=True)
class Family:
    """One model family.

    Args:
        name: the family's name, as `autotrack.weights.ModelSpec.family` gives it.
        title: how messages name it ("SAM2", "EdgeTAM").
        imgsz_multiple: input sizes must be positive multiples of this (the model's strides and memory grids).
        pixel_mean, pixel_std: RGB normalisation on 0-255 pixels, as the model was trained.
        prompt_tokens: (box xyxy or None, points (N, 2) or None, labels (N,) or None) in frame pixels -> (points,
            labels) as the prompt encoder reads them.
        build: makes the model's `ModelParts` (weights loaded) on a device, computing in a dtype.
        no_object_logit: the mask logit the family writes where it sees no object.
        multimask_max_points: prompts of at most this many points (and tracking) get 3 candidate masks.
        extra: the optional dependencies (`pip install "autotrack[extra]"`) `build` imports; None: the core ones.
    """

    name: str
    title: str
    imgsz_multiple: int
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]
    prompt_tokens: Callable[..., tuple[np.ndarray, np.ndarray]]
    build: BuildParts
    no_object_logit: float = -1024.0
    multimask_max_points: int = 1
    extra: str | None = None

    def check_imgsz(self, imgsz: int) -> None:
        """One line, before any model loads, when `imgsz` is not an input size of this family."""
        step = self.imgsz_multiple
        if isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < step or imgsz % step:
            below = imgsz // step * step if isinstance(imgsz, int) else 0
            near = " or ".join(str(size) for size in sorted({max(step, below), below + step}))
            raise InputError(f"imgsz must be a positive multiple of {step} for {self.title} (nearest: {near}), "
                             f"got {imgsz}")
