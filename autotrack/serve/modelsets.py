"""The models of a console's process: each distinct set loaded once, by the first stream that needs it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from autotrack.config import PipelineConfig
from autotrack.pipeline import Models, load_models
from autotrack.pipeline.build import ModelsKey, models_key

if TYPE_CHECKING:
    from autotrack.engine.engine import EngineModel


class ModelSets:
    """One `Models` per distinct set (`models_key`), shared by every stream on it, and one engine per distinct
    engine key, shared by the sets on it (a pipeline with a detector and one without share their SAM); each stream
    keeps its own session (`new_session`). Sets stay loaded while the process runs. `load` is how a set loads
    (`load_models`; another builds the models otherwise, e.g. scripted ones in tests)."""

    def __init__(self, load: Callable[[PipelineConfig, EngineModel | None], Models] = load_models) -> None:
        self.load = load
        self._sets: dict[ModelsKey, Models] = {}
        self._engines: dict[tuple, EngineModel] = {}
        self._lock = threading.Lock()  # one load at a time: two streams starting together load their set once

    def get(self, config: PipelineConfig) -> Models:
        """The models for `config`, loaded now if no stream has needed them yet."""
        key = models_key(config)
        with self._lock:
            if key not in self._sets:
                self._sets[key] = self.load(config, self._engines.get(key.engine))
                self._engines[key.engine] = self._sets[key].engine
            return self._sets[key]

    def __len__(self) -> int:
        return len(self._sets)
