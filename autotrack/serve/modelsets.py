"""The models of a console's process: each distinct set loaded once, by the first stream that needs it."""

from __future__ import annotations

import threading

from autotrack.config import PipelineConfig
from autotrack.pipeline import Models, load_models
from autotrack.pipeline.build import models_key


class ModelSets:
    """One `Models` per distinct set (`models_key`: the engine's model, size, precision and device, and the detector's
    weights), shared by every stream on it; each stream keeps its own session (`new_session`). Sets stay loaded
    while the process runs."""

    def __init__(self) -> None:
        self._sets: dict[tuple, Models] = {}
        self._lock = threading.Lock()  # one load at a time: two streams starting together load their set once

    def get(self, config: PipelineConfig) -> Models:
        """The models for `config`, loaded now if no stream has needed them yet."""
        key = models_key(config)
        with self._lock:
            if key not in self._sets:
                self._sets[key] = load_models(config)
            return self._sets[key]

    def __len__(self) -> int:
        return len(self._sets)
