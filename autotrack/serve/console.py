"""Console: the sources a server runs, each a `ConsoleSource` (here a `SourceWorker` of its own), and the limits on
them; the models and the compute threads they share."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import torch

from autotrack.errors import InputError
from autotrack.serve.cameras import Camera, write_cameras
from autotrack.serve.modelsets import ModelSets
from autotrack.serve.scheduler import Scheduler
from autotrack.serve.source import ConsoleSource
from autotrack.paths import source_paths
from autotrack.serve.worker import (
    Conflict,
    NotFound,
    RunOptions,
    SourceWorker,
    source_slug,
)
from autotrack.sources import is_live

logger = logging.getLogger(__name__)

SWEEP_EVERY = 60.0  # seconds between two retention sweeps of the cameras' outputs
MAX_COMPUTE_THREADS = 4  # Python's steps of every compute thread take turns (one interpreter lock): measured on
# 2 cores only, where 2 threads of 1 core each beat 1 thread of 2 (see `autotrack.serve.scheduler`)


def check_source(spec: str) -> None:
    """Refuse an empty source, and a path that does not exist (a file, a folder, a glob that matches nothing)."""
    if not spec:
        raise InputError("empty source")
    if not is_live(spec) and not source_paths(spec):
        raise InputError(f"no such file or folder, and no file matches: {spec}")


class Console:
    """Adds, finds and removes sources; at most `max_sources` at a time.

    Every source runs the console's pipeline (`options`) unless its camera names another, and writes into its own
    folder under `options.output_dir`. Sources on the same models share one copy of them (`models`); their frames
    run in turn on compute threads, at most one per core and `MAX_COMPUTE_THREADS` (`scheduler`). With a
    `cameras_file`, the list of sources is written back there whenever one is added or removed. A thread applies
    each camera's output retention every SWEEP_EVERY seconds (and each run applies it as it starts). `models`: the
    model sets to use (a new `ModelSets` by default).
    """

    def __init__(self, options: RunOptions, max_sources: int = 8, cameras_file: Path | None = None,
                 models: ModelSets | None = None) -> None:
        self.options = options
        self.max_sources = max_sources
        self.cameras_file = cameras_file
        self.models = models if models is not None else ModelSets()
        self.scheduler = Scheduler(workers=min(torch.get_num_threads(), MAX_COMPUTE_THREADS))
        self._workers: dict[str, ConsoleSource] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        threading.Thread(target=self._sweep, name="autotrack retention", daemon=True).start()

    def add(self, source: str | Camera) -> ConsoleSource:
        """Start following a source: a camera, or a file, folder, glob, webcam index or stream URL (named after it);
        it opens in the background, and a source that cannot be opened shows its error rather than failing the
        request. A path that does not exist (a file, a folder, a glob matching nothing) is refused here."""
        if isinstance(source, str):
            check_source(source.strip())
        with self._lock:
            if isinstance(source, str):
                source = Camera(self._free_name(source_slug(source.strip())), source.strip())
            if len(self._workers) >= self.max_sources:
                raise Conflict(f"at most {self.max_sources} sources; remove one first")
            if source.name in self._workers:
                raise Conflict(f"a source is called {source.name} already")
            source.config(self.options.pipeline, self.options.overrides)  # a bad pipeline or class fails here
            check_source(source.source())  # and a variable not set, or a camera's file that is not there
            worker = self._new_worker(source)
            self._workers[source.name] = worker
            self._save()
        worker.start()
        return worker

    def _new_worker(self, camera: Camera) -> ConsoleSource:
        """The worker that runs a new source (here, on the console's models and compute threads)."""
        return SourceWorker(camera, self.options, self.models, self.scheduler)

    def _free_name(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`, ...: the first no source has."""
        name, n = base, 1
        while name in self._workers:
            n += 1
            name = f"{base}-{n}"
        return name

    def _save(self) -> None:
        """Write the cameras back to the list file, if there is one (hold `_lock`)."""
        if self.cameras_file is not None:
            write_cameras(self.cameras_file, [worker.camera for worker in self._workers.values()])

    def get(self, source_id: str) -> ConsoleSource:
        worker = self._workers.get(source_id)
        if worker is None:
            raise NotFound(f"no source {source_id!r}")
        return worker

    def workers(self) -> list[ConsoleSource]:
        return list(self._workers.values())

    def remove(self, source_id: str, wait: float | None = None) -> None:
        """Stop a source and take it off the console (its files stay)."""
        worker = self.get(source_id)
        with self._lock:
            self._workers.pop(source_id, None)
            self._save()
        worker.close(wait)

    def close(self, wait: float = 10.0) -> None:
        """Stop every source, waiting up to `wait` seconds for each to close its files, then the compute threads."""
        self._closing.set()
        for worker in self.workers():
            worker.close(wait)
        self.scheduler.close()

    def _sweep(self) -> None:
        """Apply each camera's output retention every SWEEP_EVERY seconds until the console closes."""
        while not self._closing.wait(SWEEP_EVERY):
            for worker in self.workers():
                try:
                    worker.sweep()
                except Exception:  # a folder that cannot be read must not end the sweeps of the others
                    logger.exception("retention sweep of %s failed", worker.id)

    def file(self, source_id: str, relative: str) -> Path:
        """A file written by a source, by its path relative to the source's folder; anything outside that folder
        (absolute paths, `..`, links leading out) is refused as not found."""
        root = self.get(source_id).source_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound(f"no file {relative!r} in the outputs of source {source_id}")
        return path
