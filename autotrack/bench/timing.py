"""A frame's time split by stage: a clock per frame, wrappers that charge a source, prompter, tracker or sink's work
to their stage, and `measure`, which runs the frames and records each one's time, stages and resident memory."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psutil
import supervision as sv
import torch

from autotrack.bench.stats import RunResult
from autotrack.engine.engine import STAGES, EngineSession
from autotrack.prompters.base import Prompter
from autotrack.sinks import Sink
from autotrack.sources import Source
from autotrack.types import FrameResult, ObjectState, Prompt, Tracker

ENGINE_STAGES = (*STAGES, "engine_other")
PIPELINE_STAGES = ("decode", "prompter", *ENGINE_STAGES, "identity", "sinks")


class FrameClock:
    """Seconds spent per stage on the current frame; `take()` hands them over and starts the next frame."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    @contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.current[stage] += time.perf_counter() - start

    def take(self) -> dict[str, float]:
        stages, self.current = dict(self.current), defaultdict(float)
        return stages


class TimedSource(Source):
    """A source whose frame reads count as "decode"."""

    def __init__(self, source: Source, clock: FrameClock) -> None:
        super().__init__()
        self.source, self.clock = source, clock
        self.fps, self.size, self.total, self.stats = source.fps, source.size, source.total, source.stats

    def __iter__(self) -> Iterator:
        frames = iter(self.source)
        while True:
            with self.clock.time("decode"):
                frame = next(frames, None)
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self.source.close()


class TimedPrompter(Prompter):
    """A prompter whose calls count as "prompter"."""

    def __init__(self, prompter: Prompter, clock: FrameClock) -> None:
        self.prompter, self.clock = prompter, clock

    def __call__(self, frame: np.ndarray, index: int) -> sv.Detections | None:
        with self.clock.time("prompter"):
            return self.prompter(frame, index)

    def reset(self) -> None:
        self.prompter.reset()


class TimedTracker(Tracker):
    """An engine session (profile=True) whose `step` time is split into its stages and `engine_other`."""

    def __init__(self, tracker: EngineSession, clock: FrameClock) -> None:
        if not tracker.profile:
            raise TypeError("TimedTracker needs an engine session built with profile=True")
        self.tracker, self.clock = tracker, clock
        self.device, self.precision = tracker.device, tracker.precision

    def step(self, frame: np.ndarray, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]:
        before = dict(self.tracker.timings)
        start = time.perf_counter()
        states = self.tracker.step(frame, prompts)
        total = time.perf_counter() - start
        for stage in STAGES:
            spent = self.tracker.timings.get(stage, 0.0) - before.get(stage, 0.0)
            self.clock.current[stage] += spent
            total -= spent
        self.clock.current["engine_other"] += total
        return states

    def remove(self, obj_id: int) -> None:
        self.tracker.remove(obj_id)

    def rename(self, obj_id: int, new_id: int) -> None:
        self.tracker.rename(obj_id, new_id)

    def reset(self) -> None:
        self.tracker.reset()

    @property
    def object_ids(self) -> list[int]:
        return self.tracker.object_ids

    def memory_entries(self, obj_id: int) -> int:
        return self.tracker.memory_entries(obj_id)


class TimedSink(Sink):
    """A sink whose writes count as "sinks"."""

    def __init__(self, sink: Sink, clock: FrameClock) -> None:
        self.sink, self.clock = sink, clock

    def write(self, result: FrameResult) -> None:
        with self.clock.time("sinks"):
            self.sink.write(result)

    def close(self) -> None:
        self.sink.close()


def measure(name: str, frames: Iterator, clock: FrameClock, warmup: int, rest: str | None = None) -> RunResult:
    """Run `frames` (an iterator that does one frame's work per item) and record each frame.

    `rest` names the stage that gets the frame time no other stage claimed (e.g. "identity" in a pipeline run).
    ultralytics sets torch's CPU thread count (to cpu_count - 1) when it sets a predictor up, inside the first
    frame; every frame is run with the thread count the caller had, so all runs compare on equal terms.
    """
    result = RunResult(name, warmup)
    process = psutil.Process()
    threads = torch.get_num_threads()
    start = time.perf_counter()
    for _ in frames:
        seconds = time.perf_counter() - start
        stages = clock.take()
        if rest is not None:
            stages[rest] = stages.get(rest, 0.0) + seconds - sum(stages.values())
        result.add(seconds, stages, process.memory_info().rss)
        torch.set_num_threads(threads)
        start = time.perf_counter()
    return result
