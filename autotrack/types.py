"""Plain data types shared by every part of autotrack: prompts in, object states and frame results out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv


@dataclass
class Prompt:
    """What to segment for one object on one frame, in pixels of the source frame.

    Give a box (xyxy), points with labels (1 = positive, 0 = negative), a mask (HxW bool), or a box with points.
    """

    box: np.ndarray | None = None
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.box is not None:
            self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        if self.points is not None:
            self.points = np.asarray(self.points, dtype=np.float32).reshape(-1, 2)
            if self.labels is None:
                self.labels = np.ones(len(self.points), dtype=np.int32)
            self.labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
            if len(self.labels) != len(self.points):
                raise ValueError(f"{len(self.points)} points but {len(self.labels)} labels")
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
        if self.box is None and self.points is None and self.mask is None:
            raise ValueError("a Prompt needs a box, points or a mask")


@dataclass
class ObjectState:
    """One object's result on one frame.

    Attributes:
        mask: HxW bool mask at frame size (all False when the object is not visible).
        box: xyxy box of the mask in frame pixels (zeros when the mask is empty).
        affinity: predicted IoU of the chosen mask candidate (mask quality).
        occurrence: sigmoid of the object-score logit (is the object visible at all).
        motion: IoU between the Kalman-predicted box and the chosen box, None until the filter is stable.
        status: "prompted" on a frame with a prompt, otherwise "tracked"; the identity manager refines it.
    """

    mask: np.ndarray
    box: np.ndarray
    affinity: float
    occurrence: float
    motion: float | None
    status: str = "tracked"


EVENT_KINDS = ("born", "reprompted", "occluded", "resumed", "lost", "removed")


@dataclass
class Event:
    """A decision the identity manager took on one frame, kept in the frame result so every decision is visible."""

    kind: str
    tracker_id: int
    reason: str = ""


@dataclass
class FrameResult:
    """Everything autotrack knows about one frame.

    `detections` holds one row per live object: `xyxy`, `mask`, `confidence`, `class_id`, `tracker_id`, and in
    `data` the arrays `affinity`, `occurrence`, `motion` (NaN when unknown), `status` and `class_name`.
    """

    frame_index: int
    timestamp: float
    frame: np.ndarray
    detections: sv.Detections
    events: list[Event] = field(default_factory=list)
