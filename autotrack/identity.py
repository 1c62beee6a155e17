"""Track lifecycle and association: turns detections and SAM2 engine output into stable IDs.

The identity manager works in two phases per frame, because prompts must reach the engine in the same `step` call
that tracks the frame:

```python
prompts = identity.plan(detections, points)        # match, births, re-prompts
states = engine.step(frame, prompts)
detections, events = identity.observe(states, engine)  # occlusion, loss, overlap resolution, output rows
```

Rules (ideas from SAM2MOT and Det-SAM2; every threshold is a field of `IdentityConfig`):

- **Match**: Hungarian assignment on `1 - IoU(detection box, track box)`. A visible track uses its last mask box, an
  occluded one its predicted box: the engine's motion prediction (`ObjectState.next_box`, from the Kalman filter
  that also scores its masks; identity runs no filter of its own), or its last box while the engine has none.
  Pairs below `match_iou`, or whose classes differ when both have one, never match.
- **Birth**: an unmatched detection with confidence >= `birth_confidence` whose box is at least `birth_untracked`
  untracked (not covered by last frame's masks nor by a box born earlier on this frame) becomes a new object with a
  new ID, prompted with its box. IDs count up from 1 and are never reused. A box, also when the detector has a
  mask (YOLOE-seg): SAM2 takes a mask prompt as that frame's output as it is, without its decoder, so the
  detector's mask would become the object's first memory and be followed from then on; and a YOLO-seg mask is
  coarse (prototypes at 1/4 of the detector's input) and cut off at the detector's box. From the box SAM2 decodes
  its own mask, choosing among three candidates, which can reach past a box that is a little too tight.
- **Re-prompt**: a matched track is re-prompted with its detection box when it is occluded (re-entry: it resumes
  its ID), when its affinity or occurrence has been low for `low_score_frames` frames, or when its box drifted from
  the detection (IoU < `drift_iou`). A track with low scores and no matching detection is re-prompted from its
  visible point tracks when the caller passes them.
- **Occlusion**: occurrence below `occluded_occurrence` (or an empty mask) makes a track `occluded`: its output mask
  is empty, its box is the predicted box and its ID is kept. Back above: `tracked` again. Occluded for more
  than `max_lost` frames in a row: lost, removed from the engine, ID retired.
- **Removal**: an object the user removes leaves at once (a `removed` event); its ID is retired too.
- **Merge and split** (with a `Reidentifier`): the user may say a live object is one seen before (`merge`: it takes
  that ID, a `merged` event), or undo a wrong revival (`split`: the object takes a new ID, a `split` event).
- **Re-identification** (with a `Reidentifier`, `autotrack.reid`): an object born from a detection that looks
  like a retired or occluded object of a compatible class takes that object's ID on its first frame (the engine
  follows it under the old ID; its provisional ID is never used), a `reidentified` event; after a short gap it
  must also be where the old object's motion leads. Visible objects with good scores fill their galleries; a birth
  that was compared says why it stayed new.
- **Overlap**: output masks never overlap. Visible objects are ranked by `affinity * occurrence`; one whose mask has
  IoU > `overlap_iou` with a stronger one yields (it is occluded on this frame), otherwise it keeps only the pixels
  no stronger object claimed.

Every decision is returned as an `Event` (born, reprompted, occluded, resumed, lost, removed, reidentified, merged,
split) with a reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment

from autotrack.config import IdentityConfig
from autotrack.motion import mask_to_box
from autotrack.reid import Candidate, Reidentifier
from autotrack.types import Event, EventKind, ObjectState, Prompt, Status, Tracker

PointTracks = dict[int, tuple[np.ndarray, np.ndarray]]
"""Per tracker ID: visible points (Nx2, pixels) and their labels (N, 1 = on the object, 0 = not)."""


@dataclass
class _Track:
    """What the identity manager remembers about one live object."""

    tracker_id: int
    box: np.ndarray  # last visible box (the birth detection's box until the engine shows a mask)
    confidence: float
    class_id: int  # -1 when unknown
    class_name: str
    predicted: np.ndarray | None = None  # the engine's motion prediction for the current frame
    status: str = Status.TRACKED
    occluded_frames: int = 0  # consecutive frames occluded
    low_score_frames: int = 0  # consecutive frames with low affinity or occurrence


class IdentityManager:
    """Gives every object a stable ID: call `plan` before and `observe` after each `engine.step`.

    With `reid`, objects that come back after they were retired take their old ID again (the engine must give
    embeddings and `rename`)."""

    def __init__(self, config: IdentityConfig | None = None, reid: Reidentifier | None = None) -> None:
        self.config = config or IdentityConfig()
        self.reid = reid
        self._born: list[int] = []  # IDs born from detections on this frame: re-identification candidates
        self._reentered: list[int] = []  # occluded IDs re-prompted on this frame from a detection on their position
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1
        self._id_lock = threading.Lock()  # IDs may be handed out to another thread (a user prompting a new object)
        self._covered: np.ndarray | None = None  # union of last frame's output masks
        self._events: list[Event] = []
        self._planned = False

    def plan(self, detections: sv.Detections | None = None, points: PointTracks | None = None) -> dict[int, Prompt]:
        """Match this frame's detections to tracks and decide births and re-prompts.

        Args:
            detections: this frame's detections (`xyxy`, optional `confidence`, `class_id`, `data["class_name"]`);
                None or empty on frames the detector did not run. A missing confidence counts as 1.
            points: optional visible point tracks per tracker ID, used to re-prompt a track whose scores stay low
                while no detection matches it.

        Returns:
            Prompts for `engine.step`: new IDs for births, existing IDs for re-prompts.
        """
        if self._planned:
            raise RuntimeError("IdentityManager.plan() called twice; call plan, engine.step, observe once per frame")
        self._planned = True
        self._events = []
        self._born = []
        self._reentered = []

        detections = detections if detections is not None else sv.Detections.empty()
        n = len(detections)
        confidence = detections.confidence if detections.confidence is not None else np.ones(n)
        class_id = detections.class_id if detections.class_id is not None else np.full(n, -1)
        class_name = detections.data.get("class_name", np.full(n, ""))

        prompts: dict[int, Prompt] = {}
        matched = set()
        for tracker_id, det, iou in self._match(detections.xyxy, class_id):
            matched.add(det)
            track = self._tracks[tracker_id]
            track.confidence = float(confidence[det])
            if track.class_id < 0 and class_id[det] >= 0:  # adopt a class the track did not have yet
                track.class_id, track.class_name = int(class_id[det]), str(class_name[det])
            reason = self._reprompt_reason(track, iou)
            if reason:
                prompts[tracker_id] = Prompt(box=detections.xyxy[det])
                self._reprompted(track, f"{reason}: re-prompted with its detection box")
                if track.status == Status.OCCLUDED:
                    self._reentered.append(tracker_id)
        prompts.update(self._point_prompts(points or {}, skip=prompts))

        born_boxes: list[np.ndarray] = []
        for det in np.argsort(-confidence, kind="stable"):
            if det in matched or confidence[det] < self.config.birth_confidence:
                continue
            box = detections.xyxy[det]
            untracked = _untracked_fraction(box, self._covered, born_boxes)
            if untracked >= self.config.birth_untracked:
                tracker_id = self._birth(box, float(confidence[det]), int(class_id[det]), str(class_name[det]))
                born_boxes.append(box)
                self._born.append(tracker_id)
                prompts[tracker_id] = Prompt(box=box)
                self._events.append(Event(EventKind.BORN, tracker_id, f"detection confidence {confidence[det]:.2f}, "
                                                              f"{untracked:.0%} of its box untracked"))
        return prompts

    def new_id(self) -> int:
        """A new ID, never used before and never given out again; safe to call from any thread (a user interface
        reserves the ID of an object the user is about to prompt)."""
        with self._id_lock:
            tracker_id = self._next_id
            self._next_id += 1
        return tracker_id

    def add_user_prompt(self, tracker_id: int, prompt: Prompt, class_name: str = "") -> None:
        """Follow an object the user prompted with their own ID (a known ID is re-prompted).

        Call between `plan` and `engine.step`, and give the same prompt to the engine. Detector IDs continue after
        the highest user ID, so IDs never clash.
        """
        if not self._planned:
            raise RuntimeError("add_user_prompt() belongs between plan() and engine.step()")
        box = prompt.box if prompt.box is not None else _prompt_box(prompt)
        track = self._tracks.get(tracker_id)
        if track is None:
            track = _Track(tracker_id, box, 1.0, -1, class_name)
            self._tracks[tracker_id] = track
            with self._id_lock:
                self._next_id = max(self._next_id, tracker_id + 1)
            self._events.append(Event(EventKind.BORN, tracker_id, "user prompt"))
        else:
            track.box = box
            self._reprompted(track, "user prompt")
        track.predicted = box

    def remove(self, tracker_id: int, engine: Tracker) -> bool:
        """Stop following an object the user removed: its track and engine state go, its ID is retired (a
        `removed` event). Call between `plan` and `engine.step`, and drop any prompt `plan` gave it. Returns False
        when the ID is not live (already lost or never used), and then does nothing."""
        if not self._planned:
            raise RuntimeError("remove() belongs between plan() and engine.step()")
        if tracker_id not in self._tracks:
            return False
        del self._tracks[tracker_id]
        engine.remove(tracker_id)
        if self.reid is not None:  # what the user removed never comes back under its ID
            self.reid.forget(tracker_id)
        self._events = [event for event in self._events if event.tracker_id != tracker_id]
        self._events.append(Event(EventKind.REMOVED, tracker_id, "removed by the user; ID retired"))
        return True

    def merge(self, keep: int, other: int, engine: Tracker) -> bool:
        """The user says live object `other` is object `keep`, retired or occluded (a return re-identification
        missed): from this frame on the engine follows it under `keep` (an occluded `keep`'s engine state goes),
        its gallery joins `keep`'s, and `other` is retired (a `merged` event). Call between `plan` and
        `engine.step`, and move any prompt `plan` gave `other` to `keep`. Returns False, and does nothing, unless
        re-identification is on, `other` is live and was not born on this frame, and `keep` is remembered and not
        visible."""
        if not self._planned:
            raise RuntimeError("merge() belongs between plan() and engine.step()")
        live_keep = self._tracks.get(keep)
        if (self.reid is None or other not in self._tracks or other in self._born or keep == other
                or keep not in self.reid.known_ids or (live_keep is not None and live_keep.status != Status.OCCLUDED)):
            return False
        if live_keep is not None:
            engine.remove(keep)
        self._relabel(other, keep, engine)
        self.reid.merge(keep, other)
        self._events.append(Event(EventKind.MERGED, keep, f"merged by the user: #{other} is #{keep}; "
                                                          f"ID {other} retired"))
        return True

    def split(self, tracker_id: int, new_id: int, engine: Tracker) -> bool:
        """Undo a wrong revival: live object `tracker_id`, revived (or merged) by mistake, is followed under
        `new_id` (from `new_id()`) from this frame on and keeps what it was seen as since; `tracker_id` is again
        the retired object it was (a `split` event). Call between `plan` and `engine.step`, and move any prompt
        `plan` gave `tracker_id` to `new_id`. Returns False, and does nothing, unless re-identification is on and
        `tracker_id` is live and was revived."""
        if not self._planned:
            raise RuntimeError("split() belongs between plan() and engine.step()")
        if (self.reid is None or tracker_id not in self._tracks or tracker_id in self._born
                or not self.reid.split(tracker_id, new_id)):
            return False
        self._relabel(tracker_id, new_id, engine)
        self._events.append(Event(EventKind.SPLIT, new_id, f"split by the user from #{tracker_id}: a new object, "
                                                           f"not #{tracker_id} after all"))
        return True

    def _relabel(self, old: int, new: int, engine: Tracker) -> None:
        """Follow live object `old` under ID `new` from now on (engine and track)."""
        engine.rename(old, new)
        track = self._tracks.pop(old)
        track.tracker_id = new
        self._tracks[new] = track
        self._events = [event for event in self._events if event.tracker_id != old]

    def observe(self, states: dict[int, ObjectState], engine: Tracker,
                timestamp: float | None = None) -> tuple[sv.Detections, list[Event]]:
        """Read the engine's results for this frame: update statuses, retire lost objects, build the output.

        Args:
            states: `engine.step`'s result for this frame; it must hold every live tracker ID.
            engine: the engine, to remove lost objects from.
            timestamp: the frame's time in seconds (`Frame.timestamp`): how long re-identification keeps retired
                objects is measured on it.

        Returns:
            One row per live object (`tracker_id`, `mask`, `xyxy`, `confidence`, `class_id` (-1 unknown), and data
            `affinity`, `occurrence`, `motion` (NaN when unknown), `status` (tracked | occluded), `class_name`).
            Occluded objects keep their row, with an empty mask and their predicted box; filter them with
            `detections[detections.data["status"] == "tracked"]`. With no live object, `mask` is None. And the
            frame's events, those of `plan` first.
        """
        if not self._planned:
            raise RuntimeError("IdentityManager.observe() called without plan(); call plan, engine.step, observe")
        self._planned = False
        missing = sorted(set(self._tracks) - set(states))
        if missing:
            raise ValueError(f"the engine returned no state for tracker IDs {missing}")
        if self.reid is not None:
            states = self._reidentify(states, engine)

        masks, hidden_reasons = self._resolve_visibility(states)
        for track in list(self._tracks.values()):
            state = states[track.tracker_id]
            low = state.affinity < self.config.low_affinity or state.occurrence < self.config.low_occurrence
            track.low_score_frames = track.low_score_frames + 1 if low else 0
            if track.tracker_id in masks:
                self._visible(track, state)
            else:
                self._hidden(track, hidden_reasons[track.tracker_id], engine)

        self._covered = np.any(list(masks.values()), axis=0) if masks else None
        if self.reid is not None:
            self.reid.update(self._appearances(states, masks), set(self._tracks), timestamp)
        detections = self._output(states, masks)
        for track in self._tracks.values():  # where the engine's motion model expects each object next
            next_box = states[track.tracker_id].next_box
            track.predicted = track.box if next_box is None else next_box
        return detections, self._events

    def _match(self, boxes: np.ndarray, class_id: np.ndarray) -> list[tuple[int, int, float]]:
        """Hungarian assignment of detections to tracks; returns (tracker ID, detection index, IoU) per match."""
        tracks = list(self._tracks.values())
        if not tracks or len(boxes) == 0:
            return []
        track_boxes = np.stack([t.predicted if t.status == Status.OCCLUDED else t.box for t in tracks])
        iou = sv.box_iou_batch(track_boxes, boxes)
        track_class = np.array([t.class_id for t in tracks])[:, None]
        class_clash = (track_class >= 0) & (class_id[None, :] >= 0) & (track_class != class_id[None, :])
        iou[(iou < self.config.match_iou) | class_clash] = 0.0  # forbidden pairs add nothing to the assignment
        rows, cols = linear_sum_assignment(1.0 - iou)
        return [(tracks[r].tracker_id, int(c), float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] > 0]

    def _reprompt_reason(self, track: _Track, iou: float) -> str:
        """Why a matched track needs its detection as a new prompt; empty when it does not."""
        if track.status == Status.OCCLUDED:
            return f"re-entry: detection matches its predicted box (IoU {iou:.2f})"
        if track.low_score_frames >= self.config.low_score_frames:
            return f"low scores for {track.low_score_frames} frames"
        if iou < self.config.drift_iou:
            return f"drift: box IoU {iou:.2f} with its detection < {self.config.drift_iou}"
        return ""

    def _point_prompts(self, points: PointTracks, skip: dict[int, Prompt]) -> dict[int, Prompt]:
        """Re-prompt from visible point tracks the tracks whose scores stay low and that got no detection prompt."""
        prompts = {}
        for tracker_id, (xy, labels) in points.items():
            track = self._tracks.get(tracker_id)
            if track is None or tracker_id in skip or len(xy) == 0:
                continue
            if track.low_score_frames >= self.config.low_score_frames:
                prompts[tracker_id] = Prompt(points=xy, labels=labels)
                self._reprompted(track, f"low scores for {track.low_score_frames} frames and no matching detection: "
                                        f"re-prompted from {len(xy)} point tracks")
        return prompts

    def _reprompted(self, track: _Track, reason: str) -> None:
        track.low_score_frames = 0
        self._events.append(Event(EventKind.REPROMPTED, track.tracker_id, reason))

    def _birth(self, box: np.ndarray, confidence: float, class_id: int, class_name: str) -> int:
        """Start a track with a new, never used ID; returns the ID."""
        track = _Track(self.new_id(), box.astype(np.float32), confidence, class_id, class_name)
        track.predicted = track.box
        self._tracks[track.tracker_id] = track
        return track.tracker_id

    def _reidentify(self, states: dict[int, ObjectState], engine: Tracker) -> dict[int, ObjectState]:
        """Objects born on this frame that the re-identifier recognises take their old ID: the engine follows them
        under it (an occluded old object's engine state goes), and their birth becomes a `reidentified` event. So
        do objects that re-entered on another's predicted box (position alone) but look clearly more like a
        remembered object than like the one whose place they took (which is then retired). Returns the states
        under the IDs kept."""
        states = dict(states)
        reentered = {i: self.reid.similarity(i, states[i].embedding) for i in self._reentered
                     if states[i].embedding is not None and i in self.reid.known_ids}
        candidates = {i: Candidate(states[i].embedding, self._tracks[i].class_id, states[i].box)
                      for i in [*self._born, *reentered] if states[i].embedding is not None}
        hidden = {t.tracker_id for t in self._tracks.values()  # and not back this frame from a detection's prompt
                  if t.status == Status.OCCLUDED and states[t.tracker_id].status != Status.PROMPTED}
        for revival in self.reid.match(candidates, hidden, own=reentered):
            new, old = revival.new_id, revival.old_id
            if old is None:  # stays as it is: a birth's event says why
                if new not in reentered:
                    birth = next(e for e in self._events if e.kind == EventKind.BORN and e.tracker_id == new)
                    birth.reason += f"; not re-identified: {revival.refused}"
                continue
            if old in self._tracks:
                engine.remove(old)
            self._relabel(new, old, engine)
            states[old] = states.pop(new)
            self._tracks[old].status = Status.TRACKED  # back as itself, not the occluded object it had replaced
            took = f"; it had re-entered on #{new}'s predicted box (similarity {reentered[new]:.2f})" \
                if new in reentered else ""
            self._events.append(Event(EventKind.REIDENTIFIED, old, f"re-identified #{old} after "
                                      f"{revival.frames_away} frames (similarity {revival.similarity:.2f}){took}"))
        return states

    def _appearances(self, states: dict[int, ObjectState], masks: dict[int, np.ndarray]) -> dict[int, Candidate]:
        """The embeddings worth remembering: of visible objects whose scores are not low on this frame and whose
        mask kept at least 90% of its pixels from stronger objects (the embedding is pooled under the whole mask,
        so a shared region would mix two looks)."""
        return {i: Candidate(states[i].embedding, self._tracks[i].class_id, states[i].box, states[i].next_box)
                for i, mask in masks.items()
                if states[i].embedding is not None and self._tracks[i].low_score_frames == 0
                and np.count_nonzero(mask) >= 0.9 * np.count_nonzero(states[i].mask)}

    def _resolve_visibility(self, states: dict[int, ObjectState]) -> tuple[dict[int, np.ndarray], dict[int, str]]:
        """Split live tracks into visible ones with non-overlapping masks and hidden ones with the reason why.

        Visible candidates are taken strongest first (affinity * occurrence); one whose mask has IoU above
        `overlap_iou` with a stronger kept mask yields; the others lose the pixels stronger objects already claimed.
        """
        masks: dict[int, np.ndarray] = {}
        hidden: dict[int, str] = {}
        candidates = []
        for tracker_id in self._tracks:
            state = states[tracker_id]
            if state.occurrence < self.config.occluded_occurrence:
                hidden[tracker_id] = f"occurrence {state.occurrence:.2f} < {self.config.occluded_occurrence}"
            elif not state.mask.any():
                hidden[tracker_id] = "empty mask"
            else:
                candidates.append(tracker_id)
        if not candidates:
            return masks, hidden

        candidates.sort(key=lambda i: -states[i].affinity * states[i].occurrence)
        raw = np.stack([states[i].mask for i in candidates])
        iou = sv.mask_iou_batch(raw, raw)
        claimed = np.zeros_like(raw[0])
        for rank, tracker_id in enumerate(candidates):
            stronger = [j for j in range(rank) if candidates[j] in masks and iou[rank, j] > self.config.overlap_iou]
            if stronger:
                j = stronger[0]
                hidden[tracker_id] = (f"yields to {candidates[j]} "
                                      f"(mask IoU {iou[rank, j]:.2f} > {self.config.overlap_iou})")
                continue
            mask = raw[rank] & ~claimed
            if not mask.any():
                hidden[tracker_id] = "mask covered by stronger objects"
                continue
            masks[tracker_id] = mask
            claimed |= mask
        return masks, hidden

    def _visible(self, track: _Track, state: ObjectState) -> None:
        track.box = np.asarray(state.box, dtype=np.float32)
        if track.status == Status.OCCLUDED:
            self._events.append(Event(EventKind.RESUMED, track.tracker_id,
                                      f"visible again after {track.occluded_frames} frames "
                                      f"(occurrence {state.occurrence:.2f})"))
        track.status = Status.TRACKED
        track.occluded_frames = 0

    def _hidden(self, track: _Track, reason: str, engine: Tracker) -> None:
        """An object not visible on this frame: its predicted box coasts; too long hidden and it is lost."""
        if track.status == Status.TRACKED:
            self._events.append(Event(EventKind.OCCLUDED, track.tracker_id, reason))
        track.status = Status.OCCLUDED
        track.occluded_frames += 1
        if track.occluded_frames > self.config.max_lost:
            engine.remove(track.tracker_id)
            del self._tracks[track.tracker_id]
            self._events.append(Event(EventKind.LOST, track.tracker_id,
                                      f"occluded for {track.occluded_frames} frames > max_lost "
                                      f"{self.config.max_lost}; ID retired"))

    def _output(self, states: dict[int, ObjectState], masks: dict[int, np.ndarray]) -> sv.Detections:
        """One row per live object, in tracker ID order."""
        tracks = sorted(self._tracks.values(), key=lambda t: t.tracker_id)
        rows = [states[t.tracker_id] for t in tracks]
        mask = [masks.get(t.tracker_id, np.zeros_like(s.mask, dtype=bool)) for t, s in zip(tracks, rows)]
        xyxy = [mask_to_box(masks[t.tracker_id]) if t.tracker_id in masks else t.predicted for t in tracks]
        return sv.Detections(
            xyxy=np.array(xyxy, dtype=np.float32).reshape(-1, 4),
            mask=np.stack(mask) if mask else None,
            confidence=np.array([t.confidence for t in tracks], dtype=np.float32),
            class_id=np.array([t.class_id for t in tracks], dtype=int),
            tracker_id=np.array([t.tracker_id for t in tracks], dtype=int),
            data={
                "affinity": np.array([s.affinity for s in rows], dtype=np.float32),
                "occurrence": np.array([s.occurrence for s in rows], dtype=np.float32),
                "motion": np.array([np.nan if s.motion is None else s.motion for s in rows], dtype=np.float32),
                "status": np.array([t.status for t in tracks], dtype=str),
                "class_name": np.array([t.class_name for t in tracks], dtype=str),
            },
        )


def _pixel_bounds(box: np.ndarray) -> tuple[int, int, int, int]:
    """Integer pixel bounds of an xyxy box, clipped at the frame origin, at least one pixel wide and high."""
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    return x0, y0, max(int(np.ceil(box[2])), x0 + 1), max(int(np.ceil(box[3])), y0 + 1)


def _untracked_fraction(box: np.ndarray, covered: np.ndarray | None, born_boxes: list[np.ndarray]) -> float:
    """Fraction of a box covered neither by last frame's masks nor by boxes born earlier on this frame."""
    x0, y0, x1, y1 = _pixel_bounds(box)
    region = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    if covered is not None:
        patch = covered[y0:y1, x0:x1]
        region[: patch.shape[0], : patch.shape[1]] = patch
    for other in born_boxes:
        ox0, oy0, ox1, oy1 = _pixel_bounds(other)
        region[max(oy0 - y0, 0): max(oy1 - y0, 0), max(ox0 - x0, 0): max(ox1 - x0, 0)] = True
    return float(1.0 - region.mean())


def _prompt_box(prompt: Prompt) -> np.ndarray:
    """A box for a prompt without one: around its positive points, or its mask."""
    if prompt.points is not None:
        xy = prompt.points[prompt.labels == 1] if (prompt.labels == 1).any() else prompt.points
        return np.concatenate([xy.min(axis=0), xy.max(axis=0) + 1]).astype(np.float32)
    return mask_to_box(prompt.mask)
