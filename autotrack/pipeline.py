"""Pipeline: source -> prompter -> identity manager -> SAM2 tracker -> sinks, one frame at a time.

    pipeline = Pipeline("video.mp4", YoloPrompter(), SAM2Tracker(), sinks=[MotSink("out.txt")])
    for result in pipeline.stream():      # FrameResult per frame
        ...
    summary = pipeline.run()              # or just run it and get the counts

`load_pipeline` builds one from a ready pipeline (`pipelines/*.yaml`) or a config.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import supervision as sv

from autotrack.config import PipelineConfig, load_config
from autotrack.identity import IdentityManager
from autotrack.prompters.manual import ManualPrompts
from autotrack.sinks import Sink
from autotrack.sources import Source, open_source
from autotrack.types import FrameResult, ObjectState, Prompt

Prompter = Callable[[np.ndarray, int], "sv.Detections | None"]


class Tracker(Protocol):
    """What the pipeline needs of a tracker (SAM2Tracker, or a scripted stand-in in tests)."""

    def step(self, frame: np.ndarray, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]: ...

    def remove(self, obj_id: int) -> None: ...


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
        prompts: user prompts with their own IDs (`ManualPrompts`); a prompt for frame f applies on the first
            frame processed with index >= f, so a live source that dropped frame f does not lose it.
        max_frames: stop after this many frames.
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
    ) -> None:
        self.source = source if isinstance(source, Source) else open_source(source)
        self.prompter = prompter
        self.tracker = tracker
        self.sinks = list(sinks)
        self.identity = identity or IdentityManager()
        self.prompts = prompts or ManualPrompts([])
        self.max_frames = max_frames
        self.summary = RunSummary()
        self._ids: set[int] = set()
        self._next_prompt_frame = 0  # user prompts for frames before this one were given

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
        detections = self.prompter(image, index) if self.prompter is not None else None
        prompts = self.identity.plan(detections)
        for user in self.prompts.between(self._next_prompt_frame, index + 1):
            self.identity.add_user_prompt(user.object_id, user.prompt, user.class_name)
            prompts[user.object_id] = user.prompt
        self._next_prompt_frame = index + 1
        states = self.tracker.step(image, prompts)
        tracked, events = self.identity.observe(states, self.tracker)
        self.summary.events.update(event.kind for event in events)
        if tracked.tracker_id is not None:
            self._ids.update(int(i) for i in tracked.tracker_id)
        self.summary.objects = len(self._ids)
        result = FrameResult(index, timestamp, image, tracked, events)
        for sink in self.sinks:
            sink.write(result)
        return result


def build_prompter(config: PipelineConfig) -> Prompter | None:
    """The configured detector, or None for a pipeline without one."""
    if config.detector is None:
        return None
    from autotrack.prompters.yolo import YoloPrompter

    d = config.detector
    return YoloPrompter(d.weights, d.classes, d.conf, d.imgsz, d.every, config.device)


def build_tracker(config: PipelineConfig) -> Tracker:
    """The configured SAM2 engine."""
    from autotrack.sam2.engine import SAM2Tracker

    s = config.sam
    return SAM2Tracker(s.model, s.weights, s.imgsz, config.device, s.memory, s.kalman)


def load_pipeline(
    pipeline: str | PipelineConfig,
    source: Source | str | int | Iterable[np.ndarray],
    sinks: Iterable[Sink] = (),
    prompts: ManualPrompts | None = None,
    overrides: list[str] = (),
    max_frames: int | None = None,
    source_options: dict | None = None,
) -> Pipeline:
    """Build a Pipeline from a ready pipeline name (`yolo-sam2`, ...), a YAML path, or a PipelineConfig.

    A source given by name is opened last, with `source_options` (see `open_source`), once the models are loaded:
    a live source starts reading when it opens, and would otherwise drop or queue frames while they load.
    """
    try:
        config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline, list(overrides))
        prompter, tracker, identity = build_prompter(config), build_tracker(config), IdentityManager(config.identity)
    except BaseException:
        if isinstance(source, Source):
            source.close()  # the pipeline would have owned it
        raise
    src = source if isinstance(source, Source) else open_source(source, **(source_options or {}))
    return Pipeline(src, prompter, tracker, sinks, identity, prompts, max_frames)
