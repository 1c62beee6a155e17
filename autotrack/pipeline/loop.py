"""Pipeline: source -> prompter (and point tracker) -> identity manager -> engine -> sinks, frame by frame.

    pipeline = load_pipeline("yolo-sam2", "video.mp4", [MotSink("out.txt")])   # or new_session(models, ...)
    for result in pipeline.stream():      # FrameResult per frame
        ...
    summary = pipeline.run()              # or just run it and get the counts
    pipeline.set_text("forklift, person")   # an open-vocabulary detector's classes, from the next frame on

While it runs, another thread (a user interface) may prompt a new or live object (`add_prompt`), remove one
(`remove`), merge two IDs or split a wrong revival off (`merge`, `split`; with re-identification) or change the
detector's classes (`set_classes`); prompts, removals, merges and splits apply at the start of the next frame.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from autotrack.errors import InputError
from autotrack.identity import IdentityManager
from autotrack.points.follow import PointFollower
from autotrack.points.tracker import PointTracker
from autotrack.prompters.base import NoPrompter, Prompter
from autotrack.prompters.manual import Example, ManualPrompts, UserPrompt
from autotrack.prompters.yoloe import parse_text
from autotrack.reid.embedder import Embedder, embed_states
from autotrack.sinks import Sink
from autotrack.sources import Frame, Source, open_source
from autotrack.types import Event, EventKind, FrameResult, Prompt, Tracker, check_object_id


@dataclass
class RunSummary:
    """What a run did: frames, speed, and how many identity decisions of each kind."""

    frames: int = 0
    seconds: float = 0.0
    objects: int = 0  # distinct IDs seen
    events: Counter = field(default_factory=Counter)  # born, reprompted, occluded, resumed, lost
    dropped: int = 0  # frames a live source dropped, or a file could not decode
    reconnects: int = 0
    input_fps: float | None = None  # rate at which frames arrive from the source (latest measure), None if unknown
    precision: str | None = None  # the engine's compute precision (fp32, bf16, fp16), None for an engine without one

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class Pipeline:
    """Runs one source through a prompter and user prompts, the identity manager, an engine and sinks.

    `new_session` (`autotrack.pipeline.build`) builds one from a config and loaded models; build one by hand to
    compose your own parts.

    Args:
        source: a `Source`, or anything `open_source` takes (path, folder, glob, URL, webcam index, frames).
        prompter: a `Prompter` (e.g. `YoloPrompter`), or None for objects from user prompts only.
        tracker: the engine (`Tracker`: an engine session, or `SAM2Tracker`).
        sinks: outputs (`Sink`); closed when the stream ends, however it ends.
        identity: the identity manager (a default one when None).
        prompts: user prompts with their own IDs, and example boxes for an open-vocabulary prompter
            (`ManualPrompts`); a prompt or example for frame f applies on the first frame processed with index >= f,
            so a live source that dropped frame f does not lose it.
        max_frames: stop after this many frames (an integer of at least 1, or None).
        points: a `PointTracker` (`autotrack.points`) that keeps points on every object (seeded from its first
            mask, or the user's clicks; re-seeded from its mask when few are left), so the identity manager can
            re-prompt a track from its points when its scores stay low and no detection matches it; or None.
        embedder: a learned appearance embedder (`autotrack.reid.embedder`) whose vectors replace the engine's
            embeddings for re-identification, or None (the engine's own, if it gives them).
        detector_lock: a lock shared by the sessions of one loaded detector (`Models.detector_lock`), held while it
            runs or its classes change; None: the pipeline's own.
    """

    def __init__(
        self,
        source: Source | str | int | Iterable[np.ndarray],
        prompter: Prompter | None,
        tracker: Tracker,
        sinks: Iterable[Sink] = (),
        identity: IdentityManager | None = None,
        prompts: ManualPrompts | None = None,
        max_frames: int | None = None,
        points: PointTracker | None = None,
        embedder: Embedder | None = None,
        detector_lock: threading.Lock | None = None,
    ) -> None:
        whole = isinstance(max_frames, int) and not isinstance(max_frames, bool)
        if max_frames is not None and (not whole or max_frames < 1):
            raise InputError(f"max_frames must be an integer of at least 1, got {max_frames!r}")
        self.source = source if isinstance(source, Source) else open_source(source)
        self.prompter = prompter if prompter is not None else NoPrompter()
        self.tracker = tracker
        self.sinks = list(sinks)
        self.identity = identity or IdentityManager()
        self.prompts = prompts if prompts is not None else ManualPrompts([])
        self.max_frames = max_frames
        self.embedder = embedder
        config = self.identity.config  # a mask re-seeds its object's points with scores the identity manager trusts
        self.points = PointFollower(points, config.low_affinity, config.low_occurrence) if points is not None else None
        self.summary = RunSummary(precision=tracker.precision)
        self._start: float | None = None  # when processing started (perf_counter)
        self._ids: set[int] = set()
        self._next_prompt_frame = 0  # user prompts for frames before this one were given
        self._reconnects_seen = 0  # reconnections of the source already reported as events
        # requests from other threads, taken at the start of the next frame
        self._requests_lock = threading.Lock()
        self._new_prompts: list[UserPrompt] = []
        self._removals: list[int] = []
        self._relabels: list[tuple[str, int, int]] = []  # ("merge", keep, other) or ("split", old, new)
        # the detector runs one frame at a time, and its classes never change in the middle of a frame
        self._prompter_lock = detector_lock if detector_lock is not None else threading.Lock()

    def add_prompt(self, prompt: Prompt, object_id: int | None = None, class_name: str = "") -> int:
        """Prompt a new object (`object_id` None) or re-prompt a live one; returns its ID. Safe to call from any
        thread while the pipeline runs: the prompt applies to the next frame processed. An ID outside 1 to
        `MAX_OBJECT_ID`, or coordinates far outside the source's frames (`Prompt.check_frame`, once the source knows
        their size), raise InputError and change nothing."""
        if object_id is not None:
            check_object_id(object_id)
        if self.source.size is not None:
            prompt.check_frame(*self.source.size)
        if object_id is None:
            object_id = self.identity.new_id()
        with self._requests_lock:
            self._new_prompts.append(UserPrompt(object_id, 0, prompt, class_name))
        return object_id

    def remove(self, object_id: int) -> None:
        """Stop following an object and retire its ID (a `removed` event). Safe to call from any thread while the
        pipeline runs: the object leaves at the start of the next frame. Unknown IDs are ignored then."""
        with self._requests_lock:
            self._removals.append(object_id)

    def merge(self, keep: int, other: int) -> None:
        """Live object `other` is object `keep`, retired or occluded (re-identification missed the return): from
        the next frame on it carries ID `keep` (a `merged` event; `IdentityManager.merge`). Safe to call from any
        thread while the pipeline runs; ignored when, at the next frame, the merge no longer applies."""
        with self._requests_lock:
            self._relabels.append(("merge", keep, other))

    def split(self, object_id: int) -> int:
        """Undo a wrong revival: live object `object_id` carries a new ID from the next frame on (a `split` event;
        `IdentityManager.split`), and `object_id` is again the retired object it was. Returns the new ID. Safe to
        call from any thread while the pipeline runs; ignored when, at the next frame, it no longer applies."""
        new_id = self.identity.new_id()
        with self._requests_lock:
            self._relabels.append(("split", object_id, new_id))
        return new_id

    def stream(self) -> Iterator[FrameResult]:
        """Process frames as they come and yield each frame's result; sinks and source close at the end."""
        self._start = time.perf_counter()
        try:
            for frame in self.source:
                if self.done:
                    break
                yield self.step(frame)
        finally:
            self.close()

    def step(self, frame: Frame) -> FrameResult:
        """Process one frame of the source and count it, for a caller that takes the frames itself (a scheduler
        serving several streams from one compute thread); `stream()` is this in a loop. Call `close()` at the
        end."""
        if self._start is None:
            self._start = time.perf_counter()
        result = self._process(frame.index, frame.timestamp, frame.image)
        self.summary.frames += 1
        self.summary.seconds = time.perf_counter() - self._start
        self._copy_source_stats()
        return result

    @property
    def done(self) -> bool:
        """Whether `max_frames` frames were processed."""
        return self.max_frames is not None and self.summary.frames >= self.max_frames

    def run(self, on_frame: Callable[[FrameResult], None] | None = None) -> RunSummary:
        """Process the whole source; `on_frame` is called with each result (e.g. to drive a progress bar)."""
        for result in self.stream():
            if on_frame is not None:
                on_frame(result)
        return self.summary

    def set_classes(self, classes: list[str] | None) -> None:
        """What the detector finds from the next frame on; objects already followed keep their IDs and memory.

        An open-vocabulary detector (`YoloePrompter`) takes any names (its examples stay); a closed-set YOLO takes a
        subset of its classes (None: all). Thread-safe: another thread may call it while `stream()` runs (e.g. a web
        console): it waits for a detection in progress; a bad name, or a pipeline without such a detector, raises
        there and the run goes on unchanged.
        """
        with self._prompter_lock:
            self.prompter.set_classes(classes)

    def set_text(self, text: str | list[str]) -> None:
        """Text prompts, as `--text` takes them ("forklift, person in a hard hat", or a list): `set_classes` with
        those names."""
        self.set_classes(parse_text(text))

    def close(self) -> None:
        """Close every sink and the source (safe to call twice); outputs are complete and valid afterwards."""
        try:
            for sink in self.sinks:
                sink.close()
        finally:
            self._copy_source_stats()
            self.source.close()

    def _copy_source_stats(self) -> None:
        """Keep the summary's live counters (drops, reconnects, input rate) up to date while the run goes on."""
        stats = self.source.stats
        self.summary.dropped, self.summary.reconnects = stats.dropped, stats.reconnects
        self.summary.input_fps = stats.input_fps

    def _process(self, index: int, timestamp: float, image: np.ndarray) -> FrameResult:
        source_events = self._source_events()
        with self._requests_lock:
            requested, removals, relabels = self._new_prompts, self._removals, self._relabels
            self._new_prompts, self._removals, self._relabels = [], [], []
        with self._prompter_lock:
            self._give_examples(image, self.prompts.examples_between(self._next_prompt_frame, index + 1))
            detections = self.prompter(image, index)
        prompts = self.identity.plan(detections, self.points.prompts(image) if self.points is not None else None)
        for obj_id in removals:
            if self.identity.remove(obj_id, self.tracker):
                prompts.pop(obj_id, None)
                if self.points is not None:
                    self.points.remove(obj_id)
        for action, first, second in relabels:
            self._relabel(action, first, second, prompts)
        users = self.prompts.between(self._next_prompt_frame, index + 1) + requested
        users = [user for user in users if user.object_id not in removals]
        for user in users:
            self.identity.add_user_prompt(user.object_id, user.prompt, user.class_name)
            prompts[user.object_id] = user.prompt
        self._next_prompt_frame = index + 1
        states = self.tracker.step(image, prompts)
        if self.embedder is not None:
            embed_states(self.embedder, image, states)
        tracked, events = self.identity.observe(states, self.tracker, timestamp)
        events = source_events + events
        if self.points is not None:
            self.points.observe(image, prompts, {user.object_id for user in users}, tracked, events)
        self.summary.events.update(event.kind for event in events)
        if tracked.tracker_id is not None:
            self._ids.update(int(i) for i in tracked.tracker_id)
        self.summary.objects = len(self._ids)
        result = FrameResult(index, timestamp, image, tracked, events)
        for sink in self.sinks:
            sink.write(result)
        return result

    def _relabel(self, action: str, first: int, second: int, prompts: dict[int, Prompt]) -> None:
        """Apply a merge (`first` keeps, `second` goes) or a split (`first` goes, `second` comes): the prompt
        planned for the ID that goes moves to the one that stays, and its points go (the event re-seeds them)."""
        merge = action == "merge"
        done = (self.identity.merge(first, second, self.tracker) if merge
                else self.identity.split(first, second, self.tracker))
        if not done:
            return
        gone, kept = (second, first) if merge else (first, second)
        if gone in prompts:
            prompts[kept] = prompts.pop(gone)
        if self.points is not None:
            self.points.remove(gone)

    def _give_examples(self, image: np.ndarray, examples: list[Example]) -> None:
        """Hand the examples due on this frame to the prompter, with the frame their boxes are on."""
        if not examples:
            return
        height, width = image.shape[:2]
        for example in examples:
            example.check_inside(width, height)
        self.prompter.add_examples(image, examples)

    def _source_events(self) -> list[Event]:
        """A `reconnected` event on the first frame after a live stream came back."""
        stats = self.source.stats
        if stats.reconnects <= self._reconnects_seen:
            return []
        self._reconnects_seen = stats.reconnects
        return [Event(EventKind.RECONNECTED, None, f"reconnected after {stats.outage or 0:.1f} s")]
