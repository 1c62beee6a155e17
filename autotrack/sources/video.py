"""Video files, decoded by OpenCV (its FFmpeg backend)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import cv2

from autotrack.sources.base import Frame, RateMeter, Source, SourceError

logger = logging.getLogger(__name__)

MAX_BAD_FRAMES = 25
"""Consecutive undecodable frames after which a file is taken to have ended (its tail is unreadable)."""


class VideoSource(Source):
    """Frames of a video file, with `index` = the frame's number in the file and `timestamp` its presentation time.

    A frame that cannot be decoded in the middle of the file is skipped and counted in `stats.dropped`, with a
    warning that names its index; the frames after it keep their own numbers, so indices still match the file.
    The file is taken to have ended at the frame count its header declares or after `MAX_BAD_FRAMES`
    undecodable frames in a row; declared frames that were never decoded are counted as dropped too.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = str(path)
        if not os.path.exists(self.path):
            raise SourceError(f"no such video file or image folder: {self.path}")
        if os.path.isdir(self.path):
            raise SourceError(f"{self.path} is a folder, not a video file")
        self._capture = cv2.VideoCapture(self.path)
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok:
            self._capture.release()
            raise SourceError(
                f"cannot decode {self.path}: not a video, or a codec OpenCV's FFmpeg backend does not support"
            )
        self._first = first
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = fps if fps > 0 else None
        self.size = (first.shape[1], first.shape[0])
        self.total = count if count > 0 else None
        self._next_index = 0

    def _read(self):
        """The next decoded frame as OpenCV's (ok, image); the first one was already decoded by __init__."""
        if self._first is not None:
            image, self._first = self._first, None
            return True, image
        return self._capture.read()

    def __iter__(self) -> Iterator[Frame]:
        meter = RateMeter()
        bad: list[int] = []  # undecodable frames not yet known to be followed by a good one
        while self._capture.isOpened():
            ok, image = self._read()
            if ok:
                if bad:
                    self._skip(bad)
                    bad = []
                self.stats.input_fps = meter.tick()
                timestamp = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                frame = Frame(self._next_index, timestamp, image)
                self._next_index += 1
                yield frame
                continue
            at_end = self.total is not None and self._next_index >= self.total
            if at_end or len(bad) >= MAX_BAD_FRAMES:
                break
            bad.append(self._next_index)
            self._next_index += 1
        if bad and self.total is not None and bad[0] < self.total:
            self.stats.dropped += self.total - bad[0]
            logger.warning(
                "%s: frames %d to %d cannot be decoded; file truncated or corrupt?", self.path, bad[0], self.total - 1
            )

    def _skip(self, indices: list[int]) -> None:
        self.stats.dropped += len(indices)
        logger.warning("%s: skipped undecodable frame(s) %s", self.path, ", ".join(map(str, indices)))

    def close(self) -> None:
        self._capture.release()
