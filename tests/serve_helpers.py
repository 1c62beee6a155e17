"""Helpers for the console tests (tests/test_serve_*.py): a console in a thread on 127.0.0.1, bounded waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from live_stream import free_port

from autotrack.serve import Console, RunOptions, create_app
from autotrack.serve.cameras import Camera

# the manual pipeline with random SAM2 weights at a small size: no detector, no download
TEST_PIPELINE = {"pipeline": "manual-sam2", "overrides": {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}}


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "the condition") -> object:
    """Poll `condition` every 0.1 s until it returns something true (returned), for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:g} s")


@contextmanager
def running_console(output_dir: Path, token: str | None = None, sources: tuple[str | Camera, ...] = (),
                    max_sources: int = 8, pipeline: dict = TEST_PIPELINE, console: Console | None = None
                    ) -> Iterator[str]:
    """A console (a new one on `pipeline`, or `console`) served by uvicorn in a thread on 127.0.0.1; yields its
    base URL. Every source stops at the end."""
    console = console or Console(RunOptions(output_dir=output_dir, **pipeline), max_sources)
    port = free_port()
    config = uvicorn.Config(create_app(console, token, sources), host="127.0.0.1", port=port, log_level="warning",
                            ws_max_size=64 * 1024)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, "the console start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
