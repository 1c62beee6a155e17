"""SAM2 and SAM2.1 (Meta), built with ultralytics' `SAM2Model` builders (a required dependency)."""

from __future__ import annotations

from pathlib import Path

import torch

from autotrack.engine.family import Family
from autotrack.engine.parts import ModelParts
from autotrack.models.common import IMAGENET_MEAN, IMAGENET_STD, sam_prompt_tokens

IMGSZ_MULTIPLE = 32  # Hiera's total stride


def build(name: str, weights: str | Path | None, imgsz: int, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """SAM2's parts (see `autotrack.models.sam2.build.build_parts`)."""
    from autotrack.models.sam2.build import build_parts

    return build_parts(name, weights, imgsz, device, dtype)


FAMILY = Family(
    name="sam2",
    title="SAM2",
    imgsz_multiple=IMGSZ_MULTIPLE,
    pixel_mean=IMAGENET_MEAN,
    pixel_std=IMAGENET_STD,
    prompt_tokens=sam_prompt_tokens,
    build=build,
)
