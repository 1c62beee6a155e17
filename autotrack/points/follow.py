"""PointFollower: keeps a point tracker's points on the objects a pipeline follows, on both sides of each engine step.

Before the identity manager plans a frame, `prompts` moves every object's points onto it and offers the visible
points of each object the engine still sees, as the prompt a failing track can be re-prompted with. After the
engine's step, `observe` drops the points of lost objects, seeds new, re-identified and user-prompted objects, and
re-seeds objects with too few points left from masks whose scores are good.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from autotrack.points.tracker import PointTracker
from autotrack.types import Event, EventKind, Prompt, Status


RELABELLED = (EventKind.REIDENTIFIED, EventKind.MERGED, EventKind.SPLIT)  # an object followed under another ID


class PointFollower:
    """A `PointTracker` driven by a pipeline's frames, objects and events.

    Args:
        tracker: the point tracker that holds every object's points.
        min_affinity, min_occurrence: the scores a mask needs to re-seed its object's points (a mask with lower
            scores may have drifted: the points are kept then); the identity manager's low-score thresholds.
    """

    def __init__(self, tracker: PointTracker, min_affinity: float = 0.0, min_occurrence: float = 0.0) -> None:
        self.tracker = tracker
        self.min_affinity = min_affinity
        self.min_occurrence = min_occurrence
        self._occluded: set[int] = set()  # objects occluded on the last frame: their points prompt nothing

    def prompts(self, image: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Move every object's points onto this frame; {object ID: (points, labels)} of the visible points of each
        object the engine still sees, as its next prompt would be.

        Objects the engine sees as occluded are left to its memory (or a detection): points that outlive an
        occlusion have often slid onto the occluder, and a prompt from them would hand the ID to it. They are
        re-seeded once the object is back.
        """
        tracks = self.tracker.update(image)
        prompts = {obj_id: track.to_prompt() for obj_id, track in tracks.items() if obj_id not in self._occluded}
        return {obj_id: (p.points, p.labels) for obj_id, p in prompts.items() if p is not None}

    def remove(self, obj_id: int) -> None:
        """Drop an object's points (the user removed it)."""
        self.tracker.remove(obj_id)

    def observe(self, image: np.ndarray, prompts: dict[int, Prompt], prompted: set[int], tracked: sv.Detections,
                events: list[Event]) -> None:
        """After the engine's step on `image` with `prompts`: drop the points of lost objects, seed objects born on
        this frame or prompted by the user (`prompted`) from their prompts, and re-seed from good masks."""
        for event in events:
            if event.kind in (EventKind.LOST, *RELABELLED):  # a revived object's old points are stale
                self.tracker.remove(event.tracker_id)
        status = dict(zip(tracked.tracker_id, tracked.data["status"])) if tracked.tracker_id is not None else {}
        self._occluded = {int(obj_id) for obj_id, s in status.items() if s == Status.OCCLUDED}
        masks = visible_masks(tracked)
        born = {event.tracker_id for event in events if event.kind == EventKind.BORN}
        for obj_id in sorted(born | prompted):
            self._seed(obj_id, prompts[obj_id], image, masks)
        for event in events:  # a revived or relabelled object has no points under its ID: seed it from its mask
            if event.kind in RELABELLED and event.tracker_id in masks:
                self._seed(event.tracker_id, Prompt(mask=masks[event.tracker_id]), image, masks)
        good = visible_masks(tracked, self.min_affinity, self.min_occurrence)
        self.tracker.reseed_from_masks(good, image)  # a low-score mask may have drifted: keep the points then

    def _seed(self, obj_id: int, prompt: Prompt, image: np.ndarray, masks: dict[int, np.ndarray]) -> None:
        """An object's first points: the user's clicks as they are, else sampled in its first mask or its box, with
        negatives on nearby other objects. Re-seeding tops up a few clicks from the mask once it is good."""
        others = [mask for other, mask in masks.items() if other != obj_id]
        mask = masks.get(obj_id, prompt.mask)
        try:
            if prompt.points is not None and (prompt.labels == 1).any():
                self.tracker.add(obj_id, prompt.points, prompt.labels, image)
            elif mask is not None and mask.any():
                self.tracker.add_from_mask(obj_id, mask, image, others)
            elif prompt.box is not None:
                self.tracker.add_from_box(obj_id, prompt.box, image, others)
        except ValueError:  # no room for points (a box under other objects): the engine alone follows this object
            self.tracker.remove(obj_id)


def visible_masks(
    detections: sv.Detections, min_affinity: float = 0.0, min_occurrence: float = 0.0
) -> dict[int, np.ndarray]:
    """{tracker ID: mask} of the objects visible on this frame (the identity manager's non-overlapping masks),
    keeping those with at least these scores."""
    if detections.tracker_id is None or detections.mask is None:
        return {}
    data = detections.data
    rows = zip(detections.tracker_id, detections.mask, data["status"], data["affinity"], data["occurrence"])
    return {int(i): mask for i, mask, status, affinity, occurrence in rows
            if status == Status.TRACKED and mask.any() and affinity >= min_affinity and occurrence >= min_occurrence}
