"""Engines by model name: `check_imgsz`, `load_engine` (the model, once per process) and `EngineModel.session` (the
engine state of one video or stream).

TEMPORARY: replaced by the engine refactor. Until then a session is a `SAM2Tracker` that loads its own model.
"""

from __future__ import annotations

from dataclasses import dataclass

from autotrack.errors import InputError
from autotrack.sam2.engine import SAM2Tracker
from autotrack.types import Tracker


def check_imgsz(model: str, imgsz: int) -> None:
    """Refuse an input size the model cannot take, in one line; loads nothing."""
    if imgsz < 32 or imgsz % 32:
        raise InputError(f"imgsz must be a positive multiple of 32, got {imgsz}")


class EngineSession(SAM2Tracker, Tracker):
    """One video's or stream's objects, followed frame by frame (`Tracker`)."""


@dataclass(frozen=True)
class EngineModel:
    """A model as `load_engine` gave it, shared by every session of a process."""

    model: str
    weights: str | None
    imgsz: int
    device: str
    precision: str
    compile: bool

    def session(self, memory: str = "motion-aware", kalman: bool = True, profile: bool = False) -> EngineSession:
        """A new video's or stream's engine state, on this model."""
        return EngineSession(self.model, self.weights, self.imgsz, self.device, memory, kalman, self.precision,
                             self.compile, profile)


def load_engine(model: str, weights: str | None, imgsz: int, device: str, precision: str = "auto",
                compile: bool = False) -> EngineModel:
    """The engine's model (`sam2.1_t`, ..., `edgetam`), loaded once per process; `session()` per video."""
    check_imgsz(model, imgsz)
    return EngineModel(model, weights, imgsz, device, precision, compile)
