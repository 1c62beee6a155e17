"""Frames the caller already has in memory: any iterable of HxWx3 BGR uint8 numpy arrays."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from autotrack.sources.base import Frame, Source, SourceError


class ArraySource(Source):
    """Wraps a list, a generator or an (N, H, W, 3) array of BGR uint8 frames; `timestamp` is `index / fps`.

    Arrays have no clock, so `fps` (default 30) only sets the timestamps. A frame of the wrong shape or dtype,
    or of a size other than the first frame's, raises `SourceError` naming its index.
    """

    def __init__(self, frames: Iterable[np.ndarray], fps: float = 30.0):
        super().__init__()
        if fps <= 0:
            raise SourceError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.total = len(frames) if hasattr(frames, "__len__") else None
        self._frames = iter(frames)
        self._next_index = 0

    def _check(self, index: int, image) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"shape {image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            raise SourceError(f"frame {index}: expected an HxWx3 BGR uint8 array, got {got}")
        size = (image.shape[1], image.shape[0])
        if self.size is None:
            self.size = size
        elif size != self.size:
            raise SourceError(f"frame {index} is {size[0]}x{size[1]}, but frame 0 was {self.size[0]}x{self.size[1]}")

    def __iter__(self) -> Iterator[Frame]:
        for image in self._frames:
            index = self._next_index
            self._next_index += 1
            self._check(index, image)
            yield Frame(index, index / self.fps, image)
