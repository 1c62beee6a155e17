"""Pipeline: source -> prompter (and point tracker) -> identity manager -> SAM2 tracker -> sinks, frame by frame.

    pipeline = Pipeline("video.mp4", YoloPrompter(), SAM2Tracker(), sinks=[MotSink("out.txt")])
    for result in pipeline.stream():      # FrameResult per frame
        ...
    summary = pipeline.run()              # or just run it and get the counts
    pipeline.set_text("forklift, person")   # an open-vocabulary detector's classes, from the next frame on

While it runs, another thread (a user interface) may prompt a new or live object (`add_prompt`), remove one
(`remove`) or change the detector's classes (`set_classes`); prompts and removals apply at the start of the next
frame.

`build_parts` is the one place that turns a config into a pipeline's parts (each config section's keys are the
keyword arguments of its part's constructor); `load_pipeline` builds a whole pipeline from a ready pipeline
(`autotrack/pipelines/*.yaml`), a YAML file or a config. The command line, `batch`, `eval run` and `bench` all build
through them. Imports point down: this module uses sources, prompters, points, identity, the engine and sinks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import supervision as sv

from autotrack.config import PipelineConfig, load_config
from autotrack.identity import IdentityManager, PointTracks
from autotrack.points.tracker import PointTracker
from autotrack.prompters.manual import Example, ManualPrompts, UserPrompt
from autotrack.prompters.yolo import PrompterError
from autotrack.prompters.yoloe import parse_text
from autotrack.sinks import Outputs, Sink
from autotrack.sources import Source, open_source
from autotrack.types import Event, EventKind, FrameResult, Prompt, Status, Tracker

Prompter = Callable[[np.ndarray, int], "sv.Detections | None"]


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
    """Wires a source, an optional prompter and user prompts, the identity manager, a tracker and sinks.

    Args:
        source: a `Source`, or anything `open_source` takes (path, folder, glob, URL, webcam index, frames).
        prompter: a callable `(frame, frame_index) -> sv.Detections | None` (e.g. `YoloPrompter`), or None.
        tracker: the engine (`SAM2Tracker`).
        sinks: outputs, each with `write(result)` and `close()`; closed when the stream ends, however it ends.
        identity: the identity manager (a default one when None).
        prompts: user prompts with their own IDs, and example boxes for an open-vocabulary prompter
            (`ManualPrompts`); a prompt or example for frame f applies on the first frame processed with index >= f,
            so a live source that dropped frame f does not lose it.
        max_frames: stop after this many frames.
        points: a `PointTracker` (`autotrack.points`) that keeps points on every object (seeded from its first
            mask, or the user's clicks; re-seeded from its mask when few are left), so the identity manager can
            re-prompt a track from its points when its scores stay low and no detection matches it; or None.
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
    ) -> None:
        self.source = source if isinstance(source, Source) else open_source(source)
        self.prompter = prompter
        self.tracker = tracker
        self.sinks = list(sinks)
        self.identity = identity or IdentityManager()
        self.prompts = prompts if prompts is not None else ManualPrompts([])
        self.max_frames = max_frames
        self.points = points
        self.summary = RunSummary(precision=getattr(tracker, "precision", None))
        self._ids: set[int] = set()
        self._occluded: set[int] = set()  # objects occluded on the last frame: their points prompt nothing
        self._next_prompt_frame = 0  # user prompts for frames before this one were given
        self._reconnects_seen = 0  # reconnections of the source already reported as events
        # requests from other threads, taken at the start of the next frame
        self._requests_lock = threading.Lock()
        self._new_prompts: list[UserPrompt] = []
        self._removals: list[int] = []
        self._prompter_lock = threading.Lock()  # the detector's classes never change in the middle of a frame

    def add_prompt(self, prompt: Prompt, object_id: int | None = None, class_name: str = "") -> int:
        """Prompt a new object (`object_id` None) or re-prompt a live one; returns its ID. Safe to call from any
        thread while the pipeline runs: the prompt applies to the next frame processed."""
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

    def stream(self) -> Iterator[FrameResult]:
        """Process frames as they come and yield each frame's result; sinks and source close at the end."""
        start = time.perf_counter()
        try:
            for frame in self.source:
                if self.max_frames is not None and self.summary.frames >= self.max_frames:
                    break
                result = self._process(frame.index, frame.timestamp, frame.image)
                self.summary.frames += 1
                self.summary.seconds = time.perf_counter() - start
                self._copy_source_stats()
                yield result
        finally:
            self.close()

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
        console): it waits for a detection in progress; a bad name raises there and the run goes on unchanged.
        """
        set_classes = getattr(self.prompter, "set_classes", None)
        if set_classes is None:
            raise PrompterError("this pipeline has no detector whose classes can change")
        with self._prompter_lock:
            set_classes(classes)

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
            requested, removals = self._new_prompts, self._removals
            self._new_prompts, self._removals = [], []
        with self._prompter_lock:
            self._give_examples(image, self.prompts.examples_between(self._next_prompt_frame, index + 1))
            detections = self.prompter(image, index) if self.prompter is not None else None
        prompts = self.identity.plan(detections, self._point_tracks(image))
        for obj_id in removals:
            if self.identity.remove(obj_id, self.tracker):
                prompts.pop(obj_id, None)
                if self.points is not None:
                    self.points.remove(obj_id)
        users = self.prompts.between(self._next_prompt_frame, index + 1) + requested
        users = [user for user in users if user.object_id not in removals]
        for user in users:
            self.identity.add_user_prompt(user.object_id, user.prompt, user.class_name)
            prompts[user.object_id] = user.prompt
        self._next_prompt_frame = index + 1
        states = self.tracker.step(image, prompts)
        tracked, events = self.identity.observe(states, self.tracker)
        events = source_events + events
        if self.points is not None:
            born = {event.tracker_id for event in events if event.kind == EventKind.BORN}
            fresh = born | {u.object_id for u in users}
            self._follow_points(image, {obj_id: prompts[obj_id] for obj_id in fresh}, tracked, events)
        self.summary.events.update(event.kind for event in events)
        if tracked.tracker_id is not None:
            self._ids.update(int(i) for i in tracked.tracker_id)
        self.summary.objects = len(self._ids)
        result = FrameResult(index, timestamp, image, tracked, events)
        for sink in self.sinks:
            sink.write(result)
        return result

    def _give_examples(self, image: np.ndarray, examples: list[Example]) -> None:
        """Hand the examples due on this frame to the prompter, with the frame their boxes are on."""
        if not examples:
            return
        add_examples = getattr(self.prompter, "add_examples", None)
        if add_examples is None:
            raise PrompterError("this pipeline's detector cannot find objects like an example (--like); use an "
                                "open-vocabulary one, e.g. -p text-sam2")
        height, width = image.shape[:2]
        for example in examples:
            example.check_inside(width, height)
        add_examples(image, examples)

    def _source_events(self) -> list[Event]:
        """A `reconnected` event on the first frame after a live stream came back."""
        stats = self.source.stats
        if stats.reconnects <= self._reconnects_seen:
            return []
        self._reconnects_seen = stats.reconnects
        return [Event(EventKind.RECONNECTED, None, f"reconnected after {stats.outage or 0:.1f} s")]

    def _point_tracks(self, image: np.ndarray) -> PointTracks | None:
        """Move every object's points onto this frame; the visible points of each object SAM2 still sees, as its
        next prompt would be.

        Objects SAM2 sees as occluded are left to its memory (or a detection): points that outlive an occlusion
        have often slid onto the occluder, and a prompt from them would hand the ID to it. They are re-seeded once
        the object is back.
        """
        if self.points is None:
            return None
        tracks = self.points.update(image)
        prompts = {obj_id: track.to_prompt() for obj_id, track in tracks.items() if obj_id not in self._occluded}
        return {obj_id: (p.points, p.labels) for obj_id, p in prompts.items() if p is not None}

    def _follow_points(
        self, image: np.ndarray, fresh: dict[int, Prompt], tracked: sv.Detections, events: list[Event]
    ) -> None:
        """After the tracker step: drop the points of lost objects, seed new or user-prompted objects (`fresh`,
        with their prompts), and re-seed objects with too few points left from masks whose scores are good."""
        for event in events:
            if event.kind == EventKind.LOST:
                self.points.remove(event.tracker_id)
        status = dict(zip(tracked.tracker_id, tracked.data["status"])) if tracked.tracker_id is not None else {}
        self._occluded = {int(obj_id) for obj_id, s in status.items() if s == Status.OCCLUDED}
        masks = _visible_masks(tracked)
        for obj_id, prompt in sorted(fresh.items()):
            self._seed_points(obj_id, prompt, image, masks)
        config = self.identity.config
        good = _visible_masks(tracked, config.low_affinity, config.low_occurrence)
        self.points.reseed_from_masks(good, image)  # a low-score mask may have drifted: keep the points then

    def _seed_points(self, obj_id: int, prompt: Prompt, image: np.ndarray, masks: dict[int, np.ndarray]) -> None:
        """An object's first points: the user's clicks as they are, else sampled in its first mask or its box, with
        negatives on nearby other objects. Re-seeding tops up a few clicks from the mask once it is good."""
        others = [mask for other, mask in masks.items() if other != obj_id]
        mask = masks.get(obj_id, prompt.mask)
        try:
            if prompt.points is not None and (prompt.labels == 1).any():
                self.points.add(obj_id, prompt.points, prompt.labels, image)
            elif mask is not None and mask.any():
                self.points.add_from_mask(obj_id, mask, image, others)
            elif prompt.box is not None:
                self.points.add_from_box(obj_id, prompt.box, image, others)
        except ValueError:  # no room for points (a box under other objects): SAM2 alone follows this object
            self.points.remove(obj_id)


def _visible_masks(
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


def check_weights(config: PipelineConfig) -> None:
    """Fail in one line, before any model loads, when a weights file the config names is missing, is not a
    checkpoint, or (offline) cannot be had. Loads nothing."""
    from autotrack.weights import resolve_detector, resolve_weights

    if config.sam.weights != "random":
        resolve_weights(config.sam.model, config.sam.weights)
    if config.detector is not None:
        resolve_detector(config.detector.weights)


@dataclass
class Parts:
    """A pipeline's parts built from its config: what `Pipeline` takes besides the source, prompts and sinks."""

    prompter: Prompter | None
    tracker: Tracker
    identity: IdentityManager
    points: PointTracker | None


def build_parts(config: PipelineConfig) -> Parts:
    """Every part a config describes: the detector (or None), the engine, the identity manager and the point
    tracker (or None). Each section's keys are passed by name to its part's constructor, with the device."""
    return Parts(build_prompter(config), build_tracker(config), IdentityManager(config.identity),
                 build_points(config))


def build_prompter(config: PipelineConfig) -> Prompter | None:
    """The configured detector, or None for a pipeline without one: YOLOE or YOLO-World when the detector has text
    or its weights name one (open vocabulary), else YOLO."""
    if config.detector is None:
        return None
    from autotrack.prompters.yolo import YoloPrompter
    from autotrack.prompters.yoloe import YoloePrompter, is_open_vocabulary

    options = asdict(config.detector)
    if options["text"] is not None or is_open_vocabulary(options["weights"]):
        return YoloePrompter(**options, device=config.device)
    del options["text"]  # always None here: a closed-set YOLO reads no text
    return YoloPrompter(**options, device=config.device)


def build_tracker(config: PipelineConfig) -> Tracker:
    """The configured engine."""
    from autotrack.models import SAM2Tracker

    return SAM2Tracker(**asdict(config.sam), device=config.device)


def build_points(config: PipelineConfig) -> PointTracker | None:
    """The configured point tracker, or None for a pipeline without one (CoTracker3 runs on the device)."""
    if config.points is None:
        return None
    options = {"device": config.device} if config.points.backend == "cotracker" else {}
    return PointTracker(**asdict(config.points), **options)


def load_pipeline(
    pipeline: str | PipelineConfig,
    source: Source | str | int | Iterable[np.ndarray],
    sinks: Iterable[Sink] = (),
    prompts: ManualPrompts | None = None,
    overrides: Mapping[str, object] | None = None,
    max_frames: int | None = None,
    source_options: dict | None = None,
    outputs: Outputs | None = None,
) -> Pipeline:
    """Build a Pipeline from a ready pipeline name (`yolo-sam2`, ...), a YAML path, or a PipelineConfig.

    A source given by name is opened last, with `source_options` (see `open_source`), once the models are loaded:
    a live source starts reading when it opens, and would otherwise drop or queue frames while they load.
    `outputs` are opened after the source (a video output takes its frame rate) and written after `sinks`; prompts
    are checked against a source opened here (a caller that opens its own source checks them itself, earlier).
    """
    try:
        config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline, overrides)
        parts = build_parts(config)
    except BaseException:
        if isinstance(source, Source):
            source.close()  # the pipeline would have owned it
        raise
    src = source if isinstance(source, Source) else open_source(source, **(source_options or {}))
    try:
        if prompts is not None and src is not source:  # a source opened here (a live one): its size is known now
            prompts.check(src.size, src.total)
        sinks = [*sinks, *(outputs.open(src.fps) if outputs is not None else [])]
    except BaseException:
        src.close()
        raise
    return Pipeline(src, parts.prompter, parts.tracker, sinks, parts.identity, prompts, max_frames, parts.points)
