"""Compiled graphs of a runtime, as `GraphParts` calls them: a stage's name and its inputs as numpy arrays in, its
outputs as numpy arrays out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Graphs(ABC):
    """One compiled graph per stage."""

    @abstractmethod
    def run(self, stage: str, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run stage `stage` on its inputs (in the order of `autotrack.runtimes.stages`' input names)."""
