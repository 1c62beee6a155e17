"""Frames to model inputs: a square letterbox, placed top-left as SAM's predictors place it."""

from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114  # the grey ultralytics' and SAM2's predictors pad frames with


def letterbox(image: np.ndarray, size: int, pad_value: float = PAD_VALUE,
              interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Scale `image` (HxW or HxWx3) to fit a `size` x `size` square, keeping its aspect ratio, and pad the bottom and
    right with `pad_value`: ultralytics' `LetterBox(auto=False, center=False)`, pixel for pixel."""
    height, width = image.shape[:2]
    gain = min(size / height, size / width)
    new_size = max(round(width * gain), 1), max(round(height * gain), 1)
    if (width, height) != new_size:
        image = cv2.resize(image, new_size, interpolation=interpolation)
    out = np.full((size, size, *image.shape[2:]), pad_value, dtype=image.dtype)
    out[: new_size[1], : new_size[0]] = image
    return out
