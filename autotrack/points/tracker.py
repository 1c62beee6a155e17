"""The point tracker: points that follow objects no detector knows, handed to SAM2 as fresh prompts.

As in SAM-PT: the user clicks points or draws a box (or a mask is known), query points are sampled on the object
(positives) and on nearby other objects (negatives), a point tracker follows every point from frame to frame, and
each object's visible points become its next SAM2 prompt. When an object has too few visible positives left, it is
re-seeded from its current mask (SAM2's output).

    points = PointTracker()                         # OpenCV Lucas-Kanade; backend="cotracker" for CoTracker3
    points.add_from_box(1, [100, 80, 260, 300], first_frame)
    for frame in next_frames:
        tracks = points.update(frame)                # {1: PointTrack(points, labels, visible)}
        prompts = {i: t.to_prompt() for i, t in tracks.items()}  # autotrack.Prompt of visible points, or None
        ...                                          # SAM2 gives masks {obj_id: mask} for this frame
        points.reseed_from_masks(masks, frame)

Frames are HxWx3 uint8 BGR arrays (as OpenCV reads them); points are (x, y) pixels; labels 1 = positive,
0 = negative, as in `autotrack.Prompt`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from autotrack.motion.geometry import mask_to_box
from autotrack.points.sampling import (
    farthest_points,
    sample_negatives,
    sample_points_in_box,
    sample_points_in_mask,
    union_of,
)
from autotrack.types import Prompt


@dataclass
class PointTrack:
    """One object's tracked points on the latest frame.

    Attributes:
        points: (N, 2) float32 xy pixels.
        labels: (N,) int32, 1 = positive (on the object), 0 = negative (on a nearby other object).
        visible: (N,) bool, False for points the tracker lost or sees occluded.
    """

    points: np.ndarray
    labels: np.ndarray
    visible: np.ndarray

    @property
    def num_visible_positives(self) -> int:
        """How many positive points are visible."""
        return int(np.count_nonzero(self.visible & (self.labels == 1)))

    def to_prompt(self, max_positives: int | None = 8) -> Prompt | None:
        """A SAM2 prompt from the visible points only, or None when no positive point is visible.

        At most `max_positives` positives are kept (spread over the object); every visible negative is kept.
        """
        positives = self.points[self.visible & (self.labels == 1)]
        negatives = self.points[self.visible & (self.labels == 0)]
        if not len(positives):
            return None
        if max_positives is not None:
            positives = farthest_points(positives, max_positives)
        labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
        return Prompt(points=np.concatenate([positives, negatives]), labels=labels)


class PointBackend(Protocol):
    """What `PointTracker` needs from a point tracker."""

    def reset(self, frame: np.ndarray | None, points: np.ndarray, visible: np.ndarray, groups: np.ndarray) -> None:
        """Track these points (Kx2, on `frame`, or on the last frame seen when None); only `visible` ones move.

        Points with the same group id >= 0 belong to one object and move together; -1 means no group.
        """

    def step(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Positions (Kx2) and visibility (K,) on the next frame, or None when no fresh estimate is ready yet."""

    def catch_up(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Positions and visibility on the latest frame when the last answer was on an earlier one, else None."""


def make_backend(name: str, **options) -> PointBackend:
    """A point tracker by name: "lk" (OpenCV Lucas-Kanade) or "cotracker" (CoTracker3 online, torch.hub)."""
    if name == "lk":
        from autotrack.points.lk import LucasKanadeTracker

        return LucasKanadeTracker(**options)
    if name == "cotracker":
        from autotrack.points.cotracker import CoTrackerOnline

        return CoTrackerOnline(**options)
    raise ValueError(f"unknown point tracker {name!r}: use 'lk' or 'cotracker'")


def _on_mask(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each (x, y) point, whether it lies on the bool mask (False outside the frame)."""
    x, y = np.round(points[:, 0]).astype(int), np.round(points[:, 1]).astype(int)
    inside = (x >= 0) & (y >= 0) & (x < mask.shape[1]) & (y < mask.shape[0])
    on = np.zeros(len(points), dtype=bool)
    on[inside] = mask[y[inside], x[inside]]
    return on


class PointTracker:
    """Per-object query points, kept on their objects by a point tracker.

    Args:
        backend: "lk" (default), "cotracker", or any object with the `PointBackend` methods.
        num_points: positive points per object when sampling from a box or mask.
        num_negatives: negative points per object, sampled on nearby other objects when their masks are given.
        min_visible: re-seed an object from its mask when fewer visible positives remain (default num_points // 2).
        **backend_options: passed to the backend (e.g. `max_fb_error=` for "lk", `model=` for "cotracker").

    Call `update` on every frame first, then add, re-seed or remove objects on that frame.
    """

    def __init__(
        self,
        backend: str | PointBackend = "lk",
        num_points: int = 16,
        num_negatives: int = 4,
        min_visible: int | None = None,
        **backend_options,
    ) -> None:
        if not isinstance(backend, str) and backend_options:
            raise ValueError(f"options {sorted(backend_options)} need a backend name, not a backend object")
        self.backend = make_backend(backend, **backend_options) if isinstance(backend, str) else backend
        self.num_points = num_points
        self.num_negatives = num_negatives
        self.min_visible = num_points // 2 if min_visible is None else min_visible
        self.tracks: dict[int, PointTrack] = {}

    def add(self, obj_id: int, points: np.ndarray, labels: np.ndarray | None, frame: np.ndarray) -> None:
        """Follow an object from points on `frame` (e.g. user clicks); replaces the object's points if it exists.

        labels: 1 = positive, 0 = negative; all positive when None.
        """
        points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        labels = np.ones(len(points), np.int32) if labels is None else np.asarray(labels, np.int32).reshape(-1)
        if len(labels) != len(points):
            raise ValueError(f"{len(points)} points but {len(labels)} labels")
        if not np.any(labels == 1):
            raise ValueError(f"object {obj_id} needs at least one positive point (label 1)")
        self._catch_up()
        self.tracks[obj_id] = PointTrack(points, labels, np.ones(len(points), dtype=bool))
        self._restart(frame)

    def add_from_box(
        self, obj_id: int, box: np.ndarray, frame: np.ndarray, negatives_from: Sequence[np.ndarray] = ()
    ) -> None:
        """Follow an object from an xyxy box: positives in the box's centre, off the masks in `negatives_from`,
        which also receive the negatives (those near the box)."""
        avoid = union_of(negatives_from, frame.shape)
        positives = sample_points_in_box(box, self.num_points, frame.shape, frame, avoid=avoid)
        if not len(positives):
            raise ValueError(f"no room for points in box {np.asarray(box).tolist()} of object {obj_id}")
        negatives = sample_negatives(box, negatives_from, self.num_negatives, frame)
        self._catch_up()
        self._set(obj_id, positives, negatives)
        self._restart(frame)

    def add_from_mask(
        self, obj_id: int, mask: np.ndarray, frame: np.ndarray, negatives_from: Sequence[np.ndarray] = ()
    ) -> None:
        """Follow an object from its bool mask: positives inside it, negatives on the nearby masks of
        `negatives_from` (other objects)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            raise ValueError(f"the mask of object {obj_id} is empty")
        positives = sample_points_in_mask(mask, self.num_points, frame)
        negatives = sample_negatives(mask_to_box(mask), negatives_from, self.num_negatives, frame, exclude=mask)
        self._catch_up()
        self._set(obj_id, positives, negatives)
        self._restart(frame)

    def reseed(
        self, obj_id: int, mask: np.ndarray, frame: np.ndarray, negatives_from: Sequence[np.ndarray] | None = None
    ) -> None:
        """Refresh an object's points from its current mask on `frame`.

        Visible positives inside the mask are kept and new ones fill up to `num_points`. Negatives are sampled
        afresh when `negatives_from` is given, else the visible ones off the mask are kept.
        """
        self._catch_up()
        self._reseed(obj_id, np.asarray(mask, dtype=bool), frame, negatives_from)
        self._restart(frame)

    def reseed_from_masks(self, masks: Mapping[int, np.ndarray], frame: np.ndarray) -> list[int]:
        """Re-seed every tracked object of `masks` with fewer than `min_visible` visible positives inside its mask,
        using the other masks for negatives. Call it once the tracker has the masks of this frame. Objects with an
        empty mask (occluded or gone) are left alone. Returns the re-seeded ids."""
        masks = {obj_id: np.asarray(mask, dtype=bool) for obj_id, mask in masks.items() if obj_id in self.tracks}
        low = []
        for obj_id, mask in masks.items():
            track = self.tracks[obj_id]
            kept = track.visible & (track.labels == 1) & _on_mask(mask, track.points)
            if np.count_nonzero(kept) < self.min_visible and mask.any():
                low.append(obj_id)
        if not low:
            return []
        self._catch_up()
        for obj_id in low:
            others = [m for other, m in masks.items() if other != obj_id]
            self._reseed(obj_id, masks[obj_id], frame, others)
        self._restart(frame)
        return low

    def remove(self, obj_id: int) -> None:
        """Stop following an object (unknown ids are ignored)."""
        if obj_id in self.tracks:
            self._catch_up()
            del self.tracks[obj_id]
            self._restart(None)

    def update(self, frame: np.ndarray) -> dict[int, PointTrack]:
        """Track every point onto the next frame; returns {obj_id: PointTrack}.

        Empty on frames where the backend has no fresh estimate yet (CoTracker answers once per window).
        """
        result = self.backend.step(frame)
        if result is None:
            return {}
        self._apply(*result)
        return dict(self.tracks)

    def _apply(self, points: np.ndarray, visible: np.ndarray) -> None:
        """Split the backend's flat answer back into the objects' tracks (in `self.tracks` order)."""
        start = 0
        for obj_id, track in self.tracks.items():
            end = start + len(track.points)
            self.tracks[obj_id] = PointTrack(points[start:end], track.labels, visible[start:end])
            start = end

    def _catch_up(self) -> None:
        """Bring every track onto the latest frame before the set of points changes."""
        result = self.backend.catch_up()
        if result is not None:
            self._apply(*result)

    def _set(self, obj_id: int, positives: np.ndarray, negatives: np.ndarray) -> None:
        points = np.concatenate([positives, negatives]).astype(np.float32)
        labels = np.concatenate([np.ones(len(positives), np.int32), np.zeros(len(negatives), np.int32)])
        self.tracks[obj_id] = PointTrack(points, labels, np.ones(len(points), dtype=bool))

    def _reseed(
        self, obj_id: int, mask: np.ndarray, frame: np.ndarray, negatives_from: Sequence[np.ndarray] | None
    ) -> None:
        if obj_id not in self.tracks:
            raise ValueError(f"object {obj_id} is not tracked; add it first")
        track = self.tracks[obj_id]
        inside = _on_mask(mask, track.points)
        kept = track.points[track.visible & (track.labels == 1) & inside]
        fresh = sample_points_in_mask(mask, self.num_points - len(kept), frame, exclude=kept)
        if negatives_from is None:
            negatives = track.points[track.visible & (track.labels == 0) & ~inside]
        else:
            negatives = sample_negatives(mask_to_box(mask), negatives_from, self.num_negatives, frame, exclude=mask)
        self._set(obj_id, np.concatenate([kept, fresh]), negatives)

    def _restart(self, frame: np.ndarray | None) -> None:
        """Hand the backend every object's points, in `self.tracks` order, after the set of points changed."""
        tracks = list(self.tracks.values())
        if not tracks:
            self.backend.reset(frame, np.zeros((0, 2), np.float32), np.zeros(0, bool), np.zeros(0, np.int64))
            return
        groups = [np.where(t.labels == 1, i, -1) for i, t in enumerate(tracks)]
        self.backend.reset(
            frame,
            np.concatenate([t.points for t in tracks]),
            np.concatenate([t.visible for t in tracks]),
            np.concatenate(groups),
        )
