"""Play a recording (video file, image folder) at its own speed, as a camera would deliver it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from autotrack.sources.base import Frame, Source

DEFAULT_FPS = 30.0


class RealTimeSource(Source):
    """Hands out a recording's frames at their time (frame index / fps from the start), like the `latest` policy
    of a live source: a frame is not given before its time, and a frame whose time passed while the consumer was
    busy is skipped and counted in `stats.dropped`. The newest frame due is never skipped.

    Args:
        source: the recording.
        fps: its rate, when the recording does not declare one (default 30).
        clock, sleep: the time functions (tests pass a fake clock).
    """

    def __init__(self, source: Source, fps: float | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.source = source
        self.fps = source.fps or fps or DEFAULT_FPS
        self.size, self.total = source.size, source.total
        self._clock, self._sleep = clock, sleep
        self._start: float | None = None  # when frame 0 was due
        self._skipped = 0

    def resync(self) -> None:
        """Let the next frame be due now (after the consumer paused: a paused recording resumes where it was)."""
        self._start = None

    def __iter__(self) -> Iterator[Frame]:
        frames = iter(self.source)
        frame = next(frames, None)
        while frame is not None:
            if self._start is None:
                self._start = self._clock() - frame.index / self.fps
            following = next(frames, None)
            now = self._clock() - self._start
            if following is not None and following.index / self.fps <= now:
                self._skipped += 1  # the next frame is due already: this one's time has passed
                self._copy_stats()
            else:
                wait = frame.index / self.fps - now
                if wait > 0:
                    self._sleep(wait)
                self._copy_stats()
                yield frame
            frame = following

    def _copy_stats(self) -> None:
        self.stats.dropped = self.source.stats.dropped + self._skipped
        self.stats.input_fps = self.fps  # frames arrive at the recording's rate

    def close(self) -> None:
        self.source.close()
