"""OpenCV's and FFmpeg's own messages off by default, set before anything imports cv2.

OpenCV reads `OPENCV_LOG_LEVEL` once, when cv2 is imported (its `[ WARN:0@...]` lines, e.g. for each backend it tries
on a camera index), and FFmpeg's level `OPENCV_FFMPEG_LOGLEVEL` when it first opens a video (`[h264 @ 0x...]` lines).
autotrack says what went wrong in one line of its own, so for a user these are noise. `autotrack/__init__.py` calls
`quiet_video_io` before importing anything else, so every entry point (the CLI, a script, a Ray worker) sets the
variables in time; a value the user set is kept. `autotrack -v` calls `show_video_io` to bring the messages back.
`quiet_ultralytics` does the same for ultralytics' log while it exports or loads an exported detector.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_VIDEO_IO = {"OPENCV_FFMPEG_LOGLEVEL": "-8", "OPENCV_LOG_LEVEL": "OFF"}  # FFmpeg's and OpenCV's own messages


def quiet_video_io() -> None:
    """Silence OpenCV and FFmpeg, unless the user set their levels."""
    for key, value in QUIET_VIDEO_IO.items():
        os.environ.setdefault(key, value)


def show_video_io() -> None:
    """Undo `quiet_video_io`: OpenCV's and FFmpeg's messages at their default levels (a level the user set stays)."""
    quieted = [key for key, value in QUIET_VIDEO_IO.items() if os.environ.get(key) == value]
    for key in quieted:
        del os.environ[key]
    if "OPENCV_LOG_LEVEL" in quieted:  # cv2 read it on import (or reads it now): set the running level too
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_WARNING)  # OpenCV's default in a release build


@contextmanager
def quiet_ultralytics() -> Iterator[None]:
    """Ultralytics' info lines and Python warnings off for the block (its exporter's banners and torch's advice on
    tracing; the backend it loads): autotrack says what it does in one line of its own. Errors still show."""
    logger = logging.getLogger("ultralytics")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
