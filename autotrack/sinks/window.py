"""Live window sink: shows every annotated frame in an OpenCV window while a run goes on (`autotrack track --show`)."""

from __future__ import annotations

import os
import sys

import cv2

from autotrack.errors import AutotrackError
from autotrack.sinks.annotate import FrameAnnotator
from autotrack.sinks.base import Sink
from autotrack.types import FrameResult


class DisplayError(AutotrackError, RuntimeError):
    """No window can be opened here (no display, or an OpenCV build without GUI support)."""


def check_display() -> None:
    """Raise DisplayError when no window can be opened here.

    On Linux the display variables are checked first: OpenCV's Qt backend aborts the whole process, rather than
    raising, when it finds no display.
    """
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError("--show needs a display: DISPLAY and WAYLAND_DISPLAY are not set (no screen here?)")


class WindowSink(Sink):
    """Shows each frame with masks, boxes, `#id class` labels and traces (the video sink's drawing) in a window.

    Args:
        title: window title.
        trace_length: frames of motion trace drawn behind each object.

    Raises:
        DisplayError: no display, or an OpenCV without GUI support (opencv-python-headless).
    """

    def __init__(self, title: str = "autotrack", trace_length: int = 30) -> None:
        check_display()
        self.title = title
        self.annotate = FrameAnnotator(trace_length=trace_length)
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise DisplayError(
                "--show needs OpenCV with GUI support: this one has none (opencv-python-headless?); "
                "install opencv-python"
            ) from None
        self._open = True

    def write(self, result: FrameResult) -> None:
        cv2.imshow(self.title, self.annotate(result.frame, result.detections))
        cv2.waitKey(1)  # lets the window draw; keys are not read (stop with Ctrl-C)

    def close(self) -> None:
        if self._open:
            self._open = False
            cv2.destroyWindow(self.title)
