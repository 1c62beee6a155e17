"""Mask-to-box in the convention autotrack's outputs use (supervision's boxes, end pixel exclusive)."""

from __future__ import annotations

import numpy as np
import supervision as sv


def mask_to_box(mask: np.ndarray) -> np.ndarray:
    """The xyxy box (float32) enclosing a bool mask, its far edges one past the last pixel (so a one-pixel mask has
    width 1); zeros for an empty mask. supervision's `mask_to_xyxy` gives the last pixel itself."""
    if not mask.any():
        return np.zeros(4, dtype=np.float32)
    return (sv.mask_to_xyxy(mask[None])[0] + np.array([0, 0, 1, 1])).astype(np.float32)
