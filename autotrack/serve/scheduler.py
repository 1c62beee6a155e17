"""Compute threads for every stream of a process, fair between them.

Each stream reads in its own thread and hands its newest frame to its `Lane` (`Scheduler.put`); a newer frame
replaces one not taken yet (counted in `skipped`). A compute thread takes, in turn, the next lane that has a frame,
is due (its target `fps`; None: as fast as frames come) and is not being processed by another compute thread,
starting after the lane taken last, so no stream starves and a slow or dead stream (no frame) never holds up the
others. A lane's frames are processed one at a time, in order.

The scheduler runs `workers` compute threads (at most one per lane) and divides the CPU cores torch may use
(`cores`) between the busy ones: one stream runs on one thread with every core, as `autotrack track` does; two or
more on two threads with half the cores each. Threads never oversubscribe the cores (two torch jobs with every core
each on a small CPU slow each other down many times over), and two streams side by side keep both cores busy where
one stream's serial steps (Python, small operators) leave one idle: measured here, EdgeTAM at 512 px, 2 objects per
stream, two threads of 1 core each processed 1.39x the frames of one thread with 2 cores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from autotrack.sources import Frame

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Lane:
    """One stream's place in the scheduler.

    Attributes:
        name: the stream, for log lines.
        process: runs one frame of the stream, on the compute thread (it handles its own errors).
        fps: target frames per second; None processes frames as fast as they come.
        processed: frames processed.
        skipped: frames replaced by a newer one before compute took them (or never taken: the stream ended).
        latency: seconds from a frame's arrival to the end of its processing, for the latest frame (None before).
        arrival: when the frame being processed (or the latest) arrived (the scheduler's clock).
    """

    name: str
    process: Callable[[Frame], None]
    fps: float | None = None
    processed: int = 0
    skipped: int = 0
    latency: float | None = None
    arrival: float = 0.0
    _frame: Frame | None = field(default=None, repr=False)
    _arrived: float = field(default=0.0, repr=False)
    _due: float = field(default=0.0, repr=False)  # when the next frame may be processed (clock seconds)


class Scheduler:
    """Runs the lanes' frames on up to `workers` compute threads, started as lanes come; `add`, `put` and `remove`
    are safe from any thread.

    Args:
        workers: compute threads at most (1: every frame in turn on one thread).
        cores: the threads torch may use in all (default: torch's setting when the scheduler is made), divided
            between the compute threads that have a lane (`torch.set_num_threads`, process-wide).
        clock: when frames arrive and are due (tests pass a fake one).
    """

    def __init__(self, workers: int = 1, cores: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._workers = max(1, workers)
        self._cores = cores or torch.get_num_threads()
        self._clock = clock
        self._lanes: list[Lane] = []
        self._turn = 0  # where the search for the next lane starts
        self._busy: set[Lane] = set()  # the lanes whose frame is being processed
        self._cond = threading.Condition()
        self._closed = False
        self._threads: list[threading.Thread] = []

    @property
    def threads(self) -> int:
        """Compute threads started."""
        return len(self._threads)

    def add(self, lane: Lane) -> None:
        with self._cond:
            self._lanes.append(lane)
            if len(self._threads) < min(self._workers, len(self._lanes)):
                thread = threading.Thread(target=self._run, name=f"autotrack compute {len(self._threads) + 1}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            self._share_cores()

    def put(self, lane: Lane, frame: Frame) -> None:
        """Hand over the stream's newest frame; one not taken yet is dropped (`skipped`)."""
        with self._cond:
            if lane._frame is not None:
                lane.skipped += 1
            lane._frame, lane._arrived = frame, self._clock()
            self._cond.notify_all()

    def remove(self, lane: Lane, drain: bool = False) -> None:
        """Take a lane off, after its frame in progress (and with `drain`, the one waiting) is processed: the
        stream may close its outputs when this returns."""
        with self._cond:
            while lane in self._busy or (drain and lane._frame is not None and lane in self._lanes
                                         and not self._closed):
                self._cond.wait()
            if lane in self._lanes:
                self._lanes.remove(lane)
            if lane._frame is not None:
                lane._frame = None
                lane.skipped += 1
            self._share_cores()

    def close(self) -> None:
        """Stop the compute threads once their frames in progress are done; torch gets every core back."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        torch.set_num_threads(self._cores)

    def _share_cores(self) -> None:
        """Divide the cores between the compute threads that have a lane (called with the lock held)."""
        busy = max(1, min(len(self._threads), len(self._lanes)))
        threads = max(1, self._cores // busy)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            lane, frame = taken
            try:
                lane.process(frame)
            except Exception:  # a lane handles its own errors; this one must not stop the other streams
                logger.exception("stream %s failed on a frame", lane.name)
            with self._cond:
                lane.processed += 1
                lane.latency = self._clock() - lane.arrival
                self._busy.discard(lane)
                self._cond.notify_all()

    def _take(self) -> tuple[Lane, Frame] | None:
        """The next lane in turn with a frame that is due and no frame in progress, and its frame; waits for one.
        None once closed."""
        with self._cond:
            while not self._closed:
                now = self._clock()
                count = len(self._lanes)
                waiting = [self._lanes[(self._turn + i) % count] for i in range(count)]
                ready = [lane for lane in waiting if lane._frame is not None and lane not in self._busy]
                due = next((lane for lane in ready if lane._due <= now), None)
                if due is not None:
                    self._turn = (self._lanes.index(due) + 1) % count
                    frame, due._frame, due.arrival = due._frame, None, due._arrived
                    self._busy.add(due)
                    if due.fps:  # keep the cadence while on time; after a late frame, start it again from now
                        period = 1.0 / due.fps
                        due._due = (due._due if now - due._due < period else now) + period
                    return due, frame
                self._cond.wait(min((lane._due for lane in ready), default=now + 1.0) - now)
        return None
