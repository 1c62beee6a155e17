"""Helpers for the console tests (tests/test_serve_*.py): a console in a thread on 127.0.0.1, bounded waits, and a
console on scripted models whose objects leave and come back (re-identification)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import uvicorn
from fakes import FunctionPrompter, ScriptedEngine, World, moving_box, world_detections
from live_stream import free_port

from autotrack.pipeline import Models
from autotrack.serve import Console, RunOptions, create_app
from autotrack.serve.cameras import Camera
from autotrack.serve.modelsets import ModelSets

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


# ------------------------------------------------------------------------------------------- scripted models
RETURN_FRAMES = 900  # 30 s at 30 fps: a test ends long before
REID = {"reid.enabled": True, "reid.motion_frames": 0, "identity.max_lost": 5, "points": None}


def returning_world() -> tuple[World, dict[str, np.ndarray]]:
    """a leaves on frame 30 and comes back on frame 150 elsewhere, looking as before; b stays. The world and the
    looks."""
    world = {"a": [*moving_box((20, 100, 60, 140), 30), *[None] * 120,
                   *moving_box((200, 100, 240, 140), RETURN_FRAMES - 150)],
             "b": moving_box((120, 20, 160, 60), RETURN_FRAMES)}
    return world, {name: np.random.default_rng(seed).normal(size=16) for seed, name in enumerate(world)}


class ScriptedModels:
    """What `ModelSets` loads for a scripted console: a detector that knows the world, and per session a scripted
    engine that plays the world at the frame index the detector was last called with (a recording plays live, so
    frames may be skipped)."""

    def __init__(self, world: World, looks: dict[str, np.ndarray]) -> None:
        self.world, self.looks = world, looks
        self.index = 0

    def detect(self, frame: np.ndarray, index: int):
        self.index = index
        return world_detections(self.world, index)

    def session(self, memory, kalman, profile, embedding) -> ClockedEngine:
        return ClockedEngine(self)


class ClockedEngine(ScriptedEngine):
    """A scripted engine on the frame its `ScriptedModels`' detector was last called with."""

    def __init__(self, models: ScriptedModels) -> None:
        super().__init__(models.world, looks=models.looks)
        self.models = models

    @property
    def frame_index(self) -> int:
        return self.models.index


def scripted_console(output_dir: Path, overrides: dict = REID) -> Console:
    """A console that runs its real worker, scheduler and session code on `ScriptedModels` of the returning world,
    with the yolo-sam2 pipeline and `overrides`."""
    world, looks = returning_world()

    def load(config, engine) -> Models:
        models = ScriptedModels(world, looks)
        return Models(FunctionPrompter(models.detect), models)

    return Console(RunOptions("yolo-sam2", overrides, output_dir=output_dir), models=ModelSets(load=load))


def blank_video(path: Path, frames: int = RETURN_FRAMES) -> str:
    """A grey 320x240 mp4 at 30 fps (what a scripted console's detector sees does not matter)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for _ in range(frames):
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    return str(path)
