"""EdgeTAM (Meta, CVPR 2025): SAM2 with a RepViT-M1 image encoder and a perceiver that compresses each memory frame
to 512 tokens; transformers' `EdgeTamVideoModel` (the `edgetam` extra: transformers and timm)."""

from __future__ import annotations

from pathlib import Path

import torch

from autotrack.engine.family import Family
from autotrack.engine.parts import ModelParts
from autotrack.models.common import IMAGENET_MEAN, IMAGENET_STD, sam_prompt_tokens

IMGSZ_MULTIPLE = 256  # 16 x 16: the stride-16 memory map must split into the perceiver's 16x16 grid


def build(name: str, weights: str | Path | None, imgsz: int, device: torch.device, dtype: torch.dtype) -> ModelParts:
    """EdgeTAM's parts (see `autotrack.models.edgetam.build.build_parts`)."""
    from autotrack.models.edgetam.build import build_parts

    return build_parts(name, weights, imgsz, device, dtype)


FAMILY = Family(
    name="edgetam",
    title="EdgeTAM",
    imgsz_multiple=IMGSZ_MULTIPLE,
    pixel_mean=IMAGENET_MEAN,
    pixel_std=IMAGENET_STD,
    prompt_tokens=sam_prompt_tokens,
    build=build,
    extra="edgetam",
)
