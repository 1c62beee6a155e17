"""Galleries of every object seen, kept after the object leaves for a bounded time and count, and the decision
whether a new object is one of them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from autotrack.config import ReidConfig
from autotrack.reid.gallery import Gallery

DEFAULT_FPS = 30.0
"""Frames per second assumed for frames that come without a timestamp (as an array of frames is played)."""


@dataclass
class Candidate:
    """What re-identification knows of an object on one frame: one embedding (unit length), its class (-1
    unknown), its box (xyxy) and where its motion model puts it on the next frame (None: unknown)."""

    embedding: np.ndarray
    class_id: int = -1
    box: np.ndarray | None = None
    next_box: np.ndarray | None = None


@dataclass
class Revival:
    """The answer for a new object that has old objects to compare with: it takes `old_id` back, or stays new
    (`old_id` None) for the reason `refused` gives."""

    new_id: int
    old_id: int | None
    similarity: float  # with the most similar old object
    frames_away: int  # frames since the most similar old object was last seen
    refused: str = ""


@dataclass
class GalleryEntry:
    """What re-identification remembers of one object, to show it (a console's gallery view)."""

    tracker_id: int
    class_id: int  # -1 unknown
    live: bool  # followed now (visible or occluded); False: retired, still revivable
    last_seen: int  # frame it last added to its gallery
    seen_at: float  # that frame's time, in seconds
    embeddings: int  # in its gallery
    revived_on: int | None  # frame its latest revival (or merge) took effect; None: never revived


@dataclass
class _Known:
    gallery: Gallery
    class_id: int
    last_seen: int  # frame it last added to its gallery
    seen_at: float  # that frame's time, in seconds
    live: bool = True
    box: np.ndarray | None = None  # its box on that frame
    velocity: np.ndarray | None = None  # its motion per frame then (xyxy), from the motion model's prediction
    revived_on: int | None = None  # frame of its latest revival or merge
    before: _Known | None = None  # what it was before that, to split a wrong revival off


class Reidentifier:
    """Remembers what objects look like and recognises them when they come back.

    Per frame, the identity manager calls `match` for the objects born on the frame (before they get a new ID for
    good), then `update` with the frame's reliable embeddings, the live IDs and the frame's timestamp. An ID no
    longer live is retired: it stays revivable for `keep_seconds` after it was last seen, and at most `max_objects`
    retired IDs are kept (the longest unseen are forgotten first), so memory stays flat on an endless stream.

    Time is the frames' timestamps, not a count of frames: a live stream drops frames when the tracker is slower
    than the camera, so frames processed say nothing of the time passed, and its frame rate may be unknown. Frames
    without a timestamp count at `fps`.
    """

    def __init__(self, config: ReidConfig | None = None, fps: float = DEFAULT_FPS) -> None:
        self.config = config or ReidConfig()
        self.fps = fps
        self.frame = 0  # frames updated so far: the index of the frame being decided
        self._known: dict[int, _Known] = {}

    @property
    def known_ids(self) -> list[int]:
        """IDs with a gallery: live objects, and lost or retired ones still revivable."""
        return list(self._known)

    def gallery(self, tracker_id: int) -> Gallery:
        """An object's gallery (to inspect)."""
        return self._known[tracker_id].gallery

    def entries(self) -> list[GalleryEntry]:
        """Every object remembered: live ones, and lost or retired ones still revivable."""
        return [GalleryEntry(i, k.class_id, k.live, k.last_seen, k.seen_at, len(k.gallery), k.revived_on)
                for i, k in self._known.items()]

    def match(self, candidates: dict[int, Candidate], hidden: frozenset[int] | set[int] = frozenset(),
              own: dict[int, float] | None = None) -> list[Revival]:
        """Which new objects are old ones: each candidate against the retired objects and the live ones in `hidden`
        (occluded), of a compatible class (equal, or unknown on either side). A candidate revives its most similar
        object when the similarity is >= `threshold` and >= `margin` above the second most similar object's; the
        most similar candidates choose first, and an old ID goes to one candidate at most. Where the old object was
        last seen at most `motion_frames` before, the candidate must also be where its motion leads
        (`motion_refusal`). One answer per candidate that had an old object to compare with. `own`: for a
        candidate that already holds an ID (an object re-entered on position alone), its similarity with that ID's
        gallery, which a revival must beat by the margin as it must the second most similar object's."""
        eligible = {i: known for i, known in self._known.items() if not known.live or i in hidden}
        scores = {new: {old: known.gallery.similarity(c.embedding) for old, known in eligible.items()
                        if _compatible(c.class_id, known.class_id)} for new, c in candidates.items()}
        revivals: list[Revival] = []
        taken: set[int] = set()
        for new in sorted(scores, key=lambda n: -max(scores[n].values(), default=-1.0)):
            ranked = sorted(((s, old) for old, s in scores[new].items() if old not in taken), reverse=True)
            if not ranked:
                continue
            (best, old), (second, runner_up) = ranked[0], ranked[1] if len(ranked) > 1 else (-1.0, None)
            if own and own.get(new, -1.0) > second:
                second, runner_up = own[new], new
            if best < self.config.threshold:
                refused = f"most similar #{old} at {best:.2f} < threshold {self.config.threshold}"
            elif best - second < self.config.margin:
                refused = (f"#{old} at {best:.2f} and #{runner_up} at {second:.2f} are within the margin "
                           f"{self.config.margin}")
            else:
                refused = self.motion_refusal(old, candidates[new].box)
            if not refused:
                taken.add(old)
                self._revived(old)
            revivals.append(Revival(new, None if refused else old, best, self.frame - eligible[old].last_seen,
                                    refused))
        return revivals

    def similarity(self, tracker_id: int, embedding: np.ndarray) -> float | None:
        """An embedding's similarity with a remembered object's gallery; None when the object is not remembered."""
        known = self._known.get(tracker_id)
        return None if known is None else known.gallery.similarity(embedding)

    def motion_refusal(self, old: int, box: np.ndarray | None) -> str:
        """Why a newcomer at `box` cannot be object `old` by its motion (empty when it can): for a gap of at most
        `motion_frames`, its box centre is more than `motion_distance` box sizes from the old object's last box
        moved on at its last velocity. Longer gaps, or a box unknown on either side, leave appearance alone."""
        known, config = self._known[old], self.config
        gap = self.frame - known.last_seen
        if box is None or known.box is None or gap > config.motion_frames:
            return ""
        expected = known.box + gap * known.velocity
        size = max(float(np.max(known.box[2:] - known.box[:2])), 1.0)
        distance = float(np.linalg.norm((box[:2] + box[2:] - expected[:2] - expected[2:]) / 2)) / size
        if distance <= config.motion_distance:
            return ""
        return (f"#{old}, last seen {gap} frames before, would be {distance:.1f} box sizes from where its motion "
                f"leads (> motion_distance {config.motion_distance})")

    def merge(self, keep: int, other: int) -> bool:
        """The user says object `other` is object `keep` (a return re-identification missed): `keep` takes
        `other`'s embeddings and latest sighting, and is live; `other` is forgotten. A revival, which `split` can
        undo. False (nothing done) when `keep` is not remembered."""
        known = self._known.get(keep)
        if known is None:
            return False
        self._revived(keep)
        mine = self._known.pop(other, None)
        if mine is not None:
            for vector in _rows(mine.gallery):
                known.gallery.add(vector)
            known.last_seen, known.seen_at, known.box, known.velocity = (mine.last_seen, mine.seen_at, mine.box,
                                                                         mine.velocity)
        known.live = True
        return True

    def split(self, old: int, new: int) -> bool:
        """Undo `old`'s latest revival (or merge): `old` is again what it was before (retired), and what it has
        seen since is object `new`'s (the embeddings added since, the latest sighting). False (nothing done) when
        `old` was never revived."""
        known = self._known.get(old)
        if known is None or known.before is None:
            return False
        before = _rows(known.before.gallery)
        gallery = Gallery(self.config.gallery_size, self.config.diversity)
        for vector in _rows(known.gallery):
            if not any(np.array_equal(vector, kept) for kept in before):
                gallery.add(vector)
        self._known[new] = replace(known, gallery=gallery, revived_on=None, before=None)
        self._known[old] = replace(known.before, live=False)
        return True

    def _revived(self, old: int) -> None:
        """Note that `old` is revived on this frame, keeping what it was so that `split` can undo it."""
        known = self._known[old]
        known.before = replace(known, gallery=copy.deepcopy(known.gallery), before=None)
        known.revived_on = self.frame

    def forget(self, tracker_id: int) -> None:
        """Drop an object's gallery: it will never be revived (the user removed it)."""
        self._known.pop(tracker_id, None)

    def update(self, seen: dict[int, Candidate], live: set[int], timestamp: float | None = None) -> None:
        """End of a frame: add the reliable embeddings `seen` to their galleries, retire the IDs not in `live`,
        forget what is too old (`timestamp`: the frame's time in seconds) or too many, and count the frame."""
        config = self.config
        now = self.frame / self.fps if timestamp is None else timestamp
        for tracker_id, candidate in seen.items():
            known = self._known.get(tracker_id)
            if known is None:
                known = self._known[tracker_id] = _Known(Gallery(config.gallery_size, config.diversity), -1, 0, now)
            known.gallery.add(candidate.embedding)
            known.last_seen, known.seen_at = self.frame, now
            if candidate.box is not None:
                known.box = np.asarray(candidate.box, dtype=np.float32)
                known.velocity = (np.zeros(4, np.float32) if candidate.next_box is None
                                  else np.asarray(candidate.next_box, dtype=np.float32) - known.box)
            if candidate.class_id >= 0:
                known.class_id = candidate.class_id
        for tracker_id, known in self._known.items():
            known.live = tracker_id in live
        retired = sorted((i for i, known in self._known.items() if not known.live),
                         key=lambda i: self._known[i].last_seen)
        kept = [i for i in retired if now - self._known[i].seen_at <= config.keep_seconds]
        forgotten = [i for i in retired if i not in kept] + kept[: max(len(kept) - config.max_objects, 0)]
        for tracker_id in forgotten:
            del self._known[tracker_id]
        self.frame += 1


def _rows(gallery: Gallery) -> list[np.ndarray]:
    return [] if gallery.vectors is None else list(gallery.vectors)


def _compatible(class_a: int, class_b: int) -> bool:
    return class_a < 0 or class_b < 0 or class_a == class_b

