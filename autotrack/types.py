"""Plain data types shared by every part of autotrack: prompts in, object states and frame results out, the
statuses and event kinds they carry, and the `Tracker` interface every engine follows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import supervision as sv

from autotrack.errors import InputError

if TYPE_CHECKING:
    import torch


MAX_OBJECT_ID = 2**31 - 1
"""The largest object ID: every output holds it (MOT and COCO readers keep IDs in signed 32-bit integers)."""
FRAME_MARGIN = 1
"""Prompt coordinates may lie at most this many frame widths (heights) beyond the frame's left and right (top and
bottom) edges: a box may reach past the frame, a number far beyond it is a mistake."""
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the models compute in float32: larger coordinates overflow


def check_object_id(object_id: object, where: str = "object id") -> int:
    """`object_id` when it is an integer from 1 to `MAX_OBJECT_ID`; InputError otherwise."""
    if isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer)) or not (
            1 <= object_id <= MAX_OBJECT_ID):
        raise InputError(f"{where}: an object id is an integer from 1 to {MAX_OBJECT_ID}, got {object_id!r}")
    return int(object_id)


def _coordinates(values: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """`values` as float32 of `shape`; InputError for a value that is not a finite number within float32's range."""
    try:
        as_float = np.asarray(values, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what}: expected numbers, got {values!r}") from None
    if not np.isfinite(as_float).all() or (np.abs(as_float) > FLOAT32_MAX).any():
        raise InputError(f"{what}: coordinates must be finite numbers within float32's range, got "
                         f"{as_float.ravel().tolist()}")
    return as_float.astype(np.float32)


@dataclass
class Prompt:
    """What to segment for one object on one frame, in pixels of the source frame.

    Give a box (xyxy), points with labels (1 = positive, 0 = negative), a mask (HxW bool), or a box with points.
    Coordinates must be finite numbers within float32's range (InputError otherwise); `check_frame` bounds them by
    a frame's size.
    """

    box: np.ndarray | None = None
    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.box is not None:
            self.box = _coordinates(self.box, (4,), "box")
        if self.points is not None:
            self.points = _coordinates(self.points, (-1, 2), "points")
            if self.labels is None:
                self.labels = np.ones(len(self.points), dtype=np.int32)
            self.labels = np.asarray(self.labels, dtype=np.int32).reshape(-1)
            if len(self.labels) != len(self.points):
                raise InputError(f"{len(self.points)} points but {len(self.labels)} labels")
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
        if self.box is None and self.points is None and self.mask is None:
            raise InputError("a Prompt needs a box, points or a mask")

    def check_frame(self, width: int, height: int, where: str = "prompt") -> None:
        """Refuse coordinates more than `FRAME_MARGIN` frame sizes beyond a width x height frame's edges."""
        for name, values in (("box", self.box), ("point", self.points)):
            if values is None:
                continue
            xy = values.reshape(-1, 2)
            low, high = -FRAME_MARGIN * np.array([width, height]), (1 + FRAME_MARGIN) * np.array([width, height])
            if ((xy < low) | (xy > high)).any():
                raise InputError(f"{where}: {name} {values.ravel().tolist()} lies far outside the {width}x{height} "
                                 f"frame (coordinates from {low[0]:g} to {high[0]:g} across, {low[1]:g} to "
                                 f"{high[1]:g} down)")


class Status:
    """An object's status on one frame (`ObjectState.status`, `FrameResult.detections.data["status"]`)."""

    PROMPTED = "prompted"  # the engine segmented it from a prompt on this frame
    TRACKED = "tracked"  # visible, followed from memory
    OCCLUDED = "occluded"  # not visible; its ID is kept and its box is the Kalman prediction


class EventKind:
    """The kinds of decision the identity manager reports (`Event.kind`)."""

    BORN = "born"
    REPROMPTED = "reprompted"
    OCCLUDED = "occluded"
    RESUMED = "resumed"
    LOST = "lost"
    REMOVED = "removed"  # the user removed the object (`Pipeline.remove`); its ID is retired
    REIDENTIFIED = "reidentified"  # a new detection is an object seen before (`autotrack.reid`): it takes its ID
    MERGED = "merged"  # the user said a live object is one seen before: it takes that ID (`Pipeline.merge`)
    SPLIT = "split"  # the user undid a wrong revival: the object takes a new ID (`Pipeline.split`)
    RECONNECTED = "reconnected"  # about the source, not an object: a live stream came back (tracker_id None)


EVENT_KINDS = (EventKind.BORN, EventKind.REPROMPTED, EventKind.OCCLUDED, EventKind.RESUMED, EventKind.LOST,
               EventKind.REIDENTIFIED)
"""The identity manager's decisions about objects (what the run summary counts)."""


@dataclass
class ObjectState:
    """One object's result on one frame.

    Attributes:
        mask: HxW bool mask at frame size (all False when the object is not visible).
        box: xyxy box of the mask in frame pixels (zeros when the mask is empty).
        affinity: predicted IoU of the chosen mask candidate (mask quality).
        occurrence: sigmoid of the object-score logit (is the object visible at all).
        motion: IoU between the Kalman-predicted box and the chosen box, None until the filter is stable.
        status: `Status.PROMPTED` on a frame with a prompt, otherwise `Status.TRACKED`; the identity manager
            refines it.
        embedding: a unit-length appearance vector of the object on this frame, for re-identification
            (`autotrack.reid`); None when the engine was not asked for one or the mask is empty.
        next_box: xyxy box the engine's motion model (its Kalman filter for this object) predicts on the next
            frame, coasting while the object is hidden; None until the filter has a box. The identity manager
            matches and places occluded objects with it, so each object has one motion model.
    """

    mask: np.ndarray
    box: np.ndarray
    affinity: float
    occurrence: float
    motion: float | None
    status: str = Status.TRACKED
    embedding: np.ndarray | None = None
    next_box: np.ndarray | None = None


@dataclass
class Event:
    """A decision the identity manager took on one frame (or, with tracker_id None, something that happened to the
    source), kept in the frame result so every decision is visible."""

    kind: str
    tracker_id: int | None
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


class Tracker(ABC):
    """What the pipeline, the identity manager and the command line need of an engine: one video's or stream's
    objects, followed frame by frame (an engine session, or a scripted stand-in in tests).

    Attributes:
        device: the torch device it computes on.
        precision: its compute precision ("fp32", "bf16", "fp16"), or None for an engine without one.
    """

    device: torch.device
    precision: str | None = None

    @abstractmethod
    def step(self, frame: np.ndarray, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]:
        """Process the next frame with these prompts (new or known object IDs); every object's state on it."""

    @abstractmethod
    def remove(self, obj_id: int) -> None:
        """Stop following an object and free its memory."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every object and start counting frames again."""

    @property
    @abstractmethod
    def object_ids(self) -> list[int]:
        """IDs of the objects followed now."""

    @abstractmethod
    def memory_entries(self, obj_id: int) -> int:
        """Memory entries object `obj_id` holds now."""

    def rename(self, obj_id: int, new_id: int) -> None:
        """Follow object `obj_id` under `new_id` from now on, with its memory (re-identification gives a new
        object the ID it had before); `new_id` must not be followed. Engines that cannot raise."""
        raise NotImplementedError(f"{type(self).__name__} cannot rename objects, so it cannot re-identify them")
