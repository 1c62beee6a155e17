"""Console: the sources a server runs, each with its own `SourceWorker`, and the limits on them."""

from __future__ import annotations

import threading
from pathlib import Path

from autotrack.errors import InputError
from autotrack.paths import source_paths
from autotrack.serve.worker import (
    Conflict,
    NotFound,
    RunOptions,
    SourceWorker,
    source_slug,
)
from autotrack.sources import is_live


def check_source(spec: str) -> None:
    """Refuse an empty source, and a path that does not exist (a file, a folder, a glob that matches nothing)."""
    if not spec:
        raise InputError("empty source")
    if not is_live(spec) and not source_paths(spec):
        raise InputError(f"no such file or folder, and no file matches: {spec}")


class Console:
    """Adds, finds and removes sources; at most `max_sources` at a time.

    Every source runs the same pipeline (`options`) and writes into its own folder under `options.output_dir`.
    """

    def __init__(self, options: RunOptions, max_sources: int = 8) -> None:
        self.options = options
        self.max_sources = max_sources
        self._workers: dict[str, SourceWorker] = {}
        self._lock = threading.Lock()

    def add(self, spec: str) -> SourceWorker:
        """Start following a source (file, folder, glob, webcam index, stream URL); it opens in the background,
        and a source that cannot be opened shows its error rather than failing the request. A path that does not
        exist (a file, a folder, a glob matching nothing) is refused here."""
        spec = spec.strip()
        check_source(spec)
        with self._lock:
            if len(self._workers) >= self.max_sources:
                raise Conflict(f"at most {self.max_sources} sources; remove one first")
            base = source_slug(spec)
            source_id, n = base, 1
            while source_id in self._workers:
                n += 1
                source_id = f"{base}-{n}"
            worker = SourceWorker(source_id, spec, self.options)
            self._workers[source_id] = worker
        worker.start()
        return worker

    def get(self, source_id: str) -> SourceWorker:
        worker = self._workers.get(source_id)
        if worker is None:
            raise NotFound(f"no source {source_id!r}")
        return worker

    def workers(self) -> list[SourceWorker]:
        return list(self._workers.values())

    def remove(self, source_id: str, wait: float | None = None) -> None:
        """Stop a source and take it off the console (its files stay)."""
        worker = self.get(source_id)
        with self._lock:
            self._workers.pop(source_id, None)
        worker.stop(wait)

    def close(self, wait: float = 10.0) -> None:
        """Stop every source, waiting up to `wait` seconds for each to close its files."""
        for worker in self.workers():
            worker.stop(wait)

    def file(self, source_id: str, relative: str) -> Path:
        """A file written by a source, by its path relative to the source's folder; anything outside that folder
        (absolute paths, `..`, links leading out) is refused as not found."""
        root = self.get(source_id).source_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound(f"no file {relative!r} in the outputs of source {source_id}")
        return path
