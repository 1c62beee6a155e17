"""What every frame source shares: the `Frame` it yields, its `SourceStats`, the `SourceError` it raises."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from autotrack.errors import AutotrackError


class SourceError(AutotrackError, RuntimeError):
    """A source cannot be opened or read; the message is one line that says which input and why."""


@dataclass
class Frame:
    """One frame: its position in the source, its time in seconds, and the HxWx3 BGR uint8 image."""

    index: int
    timestamp: float
    image: np.ndarray


@dataclass
class SourceStats:
    """Counters a source keeps while it runs.

    Attributes:
        dropped: frames the consumer never got (skipped as undecodable, or overwritten under the `latest` policy).
        reconnects: successful reconnections of a live stream.
        input_fps: rate at which frames arrive from the input (decode rate for files), over the last frames.
        queued: frames read from a live stream and waiting for the consumer.
        outage: seconds the stream was gone before its latest reconnection (None before any).
    """

    dropped: int = 0
    reconnects: int = 0
    input_fps: float | None = None
    queued: int = 0
    outage: float | None = None


class RateMeter:
    """Frames per second over a sliding window of the last `window` ticks."""

    def __init__(self, window: int = 30):
        self._times: deque[float] = deque(maxlen=window)

    def tick(self) -> float | None:
        """Record one frame now; return the current rate (None until two frames were seen)."""
        self._times.append(time.monotonic())
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else None


class Source(ABC):
    """A one-pass stream of `Frame`s; use it as a context manager (or call `close()`) to free what it holds.

    Attributes:
        fps: frames per second the input declares, or None when unknown.
        size: (width, height) of the frames, or None until known.
        total: number of frames, or None for live or unsized inputs.
        stats: running counters (`SourceStats`).
    """

    fps: float | None = None
    size: tuple[int, int] | None = None
    total: int | None = None
    stats: SourceStats

    def __init__(self) -> None:
        self.stats = SourceStats()

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """Yield frames in order, from wherever the previous iteration stopped."""

    def close(self) -> None:
        """Release the input (file handle, capture, reader thread). Safe to call twice."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
