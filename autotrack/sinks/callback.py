"""Sink that hands each FrameResult to a user function."""

from __future__ import annotations

from collections.abc import Callable

from autotrack.sinks.base import Sink
from autotrack.types import FrameResult


class CallbackSink(Sink):
    """Calls `fn(result)` for every frame, e.g. to push results to a queue, a database or a web socket."""

    def __init__(self, fn: Callable[[FrameResult], object]) -> None:
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {type(fn).__name__}")
        self.fn = fn

    def write(self, result: FrameResult) -> None:
        self.fn(result)

    def close(self) -> None:
        """Nothing to release: the function's owner closes what it writes to."""
