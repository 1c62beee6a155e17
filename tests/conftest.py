"""Shared fixtures: paths to the real test data and small synthetic clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real videos and ground truth shared with the project (never copied into it)."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    return DATA


def moving_square_clip(path: Path, frames: int = 40, size: tuple[int, int] = (320, 240)) -> Path:
    """Write a small mp4: a textured square moving right over a textured background."""
    rng = np.random.default_rng(0)
    w, h = size
    background = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (7, 7), 0)
    texture = rng.integers(0, 255, (60, 60, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (w, h))
    for i in range(frames):
        frame = background.copy()
        x = 20 + 4 * i
        frame[80:140, x : x + 60] = texture
        writer.write(frame)
    writer.release()
    return path
