"""One compute thread for every stream of a process, fair between them.

Each stream reads in its own thread and hands its newest frame to its `Lane` (`Scheduler.put`); a newer frame
replaces one not taken yet (counted in `skipped`). The compute thread takes, in turn, the next lane that has a frame
and is due (its target `fps`; None: as fast as frames come), starting after the lane it served last, so no stream
starves and a slow or dead stream (no frame) never holds up the others. Only compute is serialized: one thread runs
the models, so torch's threads never compete with another stream's (oversubscribing a small CPU slows every stream
down many times over).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    """Runs the lanes' frames on one compute thread, started with the first lane; `add`, `put` and `remove` are
    safe from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # when frames arrive and are due (tests pass a fake one)
        self._lanes: list[Lane] = []
        self._turn = 0  # where the search for the next lane starts
        self._busy: Lane | None = None  # the lane whose frame is being processed
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, lane: Lane) -> None:
        with self._cond:
            self._lanes.append(lane)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="autotrack compute", daemon=True)
                self._thread.start()

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
            while (drain and lane._frame is not None and lane in self._lanes and not self._closed) or self._busy is lane:
                self._cond.wait()
            if lane in self._lanes:
                self._lanes.remove(lane)
            if lane._frame is not None:
                lane._frame = None
                lane.skipped += 1

    def close(self) -> None:
        """Stop the compute thread once its frame in progress is done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

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
                self._busy = None
                self._cond.notify_all()

    def _take(self) -> tuple[Lane, Frame] | None:
        """The next lane in turn with a frame that is due, and its frame; waits for one. None once closed."""
        with self._cond:
            while not self._closed:
                now = self._clock()
                count = len(self._lanes)
                waiting = [self._lanes[(self._turn + i) % count] for i in range(count)]
                ready = [lane for lane in waiting if lane._frame is not None]
                due = next((lane for lane in ready if lane._due <= now), None)
                if due is not None:
                    self._turn = (self._lanes.index(due) + 1) % count
                    frame, due._frame, due.arrival, self._busy = due._frame, None, due._arrived, due
                    if due.fps:  # keep the cadence while on time; after a late frame, start it again from now
                        period = 1.0 / due.fps
                        due._due = (due._due if now - due._due < period else now) + period
                    return due, frame
                self._cond.wait(min((lane._due for lane in ready), default=now + 1.0) - now)
        return None
