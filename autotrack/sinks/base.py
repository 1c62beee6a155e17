"""The interface every sink shares: `write(result)` per frame, `close()` at the end, usable as a context manager."""

from __future__ import annotations

from abc import ABC, abstractmethod

import supervision as sv

from autotrack.errors import AutotrackError
from autotrack.types import FrameResult, Status


class OutputError(AutotrackError, RuntimeError):
    """An output path cannot be written; the message names it."""


class Sink(ABC):
    """Receives the FrameResult of every frame, in order, and turns it into an output.

    Subclasses implement `write` and `close`; `close` is safe to call twice.
    """

    @abstractmethod
    def write(self, result: FrameResult) -> None:
        """Add one frame's result to the output."""

    @abstractmethod
    def close(self) -> None:
        """Finish the output and release what the sink holds."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def visible(detections: sv.Detections) -> sv.Detections:
    """The rows of objects seen on this frame. Occluded objects keep a row in a FrameResult (status "occluded", an
    empty mask and their predicted box) so their IDs stay visible to the user, but they are not drawn or written.
    Raises ValueError when the rows carry no tracker ids, which every sink needs."""
    if len(detections) == 0:
        return detections
    if detections.tracker_id is None:
        raise ValueError("sinks need detections with tracker_id set (one id per object)")
    keep = detections.box_area > 0
    if "status" in detections.data:
        keep &= detections.data["status"] == Status.TRACKED
    return detections[keep]


def class_names(detections: sv.Detections) -> list[str]:
    """Each row's class name ("object" when it has none), as every output labels objects."""
    names = detections.data.get("class_name")
    return [str(names[i]) if names is not None and names[i] else "object" for i in range(len(detections))]
