"""SAM 3 (Meta, 2025): the tracker of SAM 3's checkpoint, a SAM 2.1-style video model on a ViT-L image encoder;
transformers' `Sam3TrackerVideoModel` (the `sam3` extra: transformers)."""

from __future__ import annotations

from pathlib import Path

import torch

from autotrack.engine.family import Family
from autotrack.engine.parts import ModelParts
from autotrack.models.common import sam_prompt_tokens

PATCH = 14  # the ViT's patch size: input sizes are multiples of it
PIXEL_MEAN = (127.5, 127.5, 127.5)  # SAM 3 normalises RGB to [-1, 1] (mean = std = 0.5 on 0-1 pixels)
PIXEL_STD = (127.5, 127.5, 127.5)


def build(name: str, weights: str | Path | None, imgsz: int, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """SAM 3's parts (see `autotrack.models.sam3.build.build_parts`)."""
    from autotrack.models.sam3.build import build_parts

    return build_parts(name, weights, imgsz, device, dtype)


FAMILY = Family(
    name="sam3",
    title="SAM 3",
    imgsz_multiple=PATCH,
    pixel_mean=PIXEL_MEAN,
    pixel_std=PIXEL_STD,
    prompt_tokens=sam_prompt_tokens,
    build=build,
    extra="sam3",
)
