"""The interface every prompter shares: `Prompter`, the `PrompterError` it raises, and `NoPrompter` for a pipeline
without a detector."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import supervision as sv

from autotrack.errors import AutotrackError

if TYPE_CHECKING:
    from autotrack.prompters.manual import Example

P = TypeVar("P", bound="Prompter")


class PrompterError(AutotrackError, RuntimeError):
    """A prompter cannot be built or run; the message says why."""


class Prompter(ABC):
    """Finds what to follow on a frame: boxes (`xyxy`) with optional `confidence`, `class_id` and
    `data["class_name"]`, which the identity manager matches to tracks, births or re-prompts.

    Subclasses implement `__call__`; a detector whose classes can change overrides `set_classes`, one that finds
    objects like an example box overrides `add_examples`, and one that keeps state between frames overrides `reset`
    (and `session`, to serve several streams at once).
    """

    @abstractmethod
    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        """The detections on `frame` (HxWx3 BGR uint8, the `frame_index`-th of the source), or None on a frame it
        skips."""

    def reset(self) -> None:
        """Go back to the state it was built in (its configured classes, no examples), for a new video or stream."""

    def session(self, **settings: object) -> Prompter:
        """The prompter for one more video or stream, in the state it was built in (its configured classes, no
        examples), or with the per-stream `settings` a detector config gives (classes, conf, ...). A detector whose
        state a stream changes returns a new prompter on the same loaded model, so streams served together share
        its weights and never each other's classes; this default `reset`s and returns itself (settings unused),
        which suits videos run one after another."""
        self.reset()
        return self

    def set_classes(self, classes: list[str] | None) -> None:
        """Find these classes from the next frame on (None: all). Safe to call from any thread while frames are
        processed; a bad name raises in the caller's thread."""
        raise PrompterError("this pipeline has no detector whose classes can change")

    def add_examples(self, frame: np.ndarray, examples: list[Example]) -> None:
        """Also find every object that looks like these examples (boxes on `frame`), from this frame on. Called
        between frames, with the frame the boxes are on."""
        raise PrompterError("this pipeline's detector cannot find objects like an example (--like); use an "
                            "open-vocabulary one, e.g. -p text-sam2")


class NoPrompter(Prompter):
    """The prompter of a pipeline without a detector: it finds nothing (objects come from the user's prompts)."""

    def __call__(self, frame: np.ndarray, frame_index: int) -> None:
        return None


def configured_copy(prompter: P, settings: dict) -> P:
    """A shallow copy of `prompter` on the same loaded model, with a detector config's `settings` (its
    `_configure`'s arguments) applied and its state reset: the `session` of a detector whose state a stream
    changes."""
    copied = copy.copy(prompter)
    if settings:
        copied._configure(**settings)
    copied.reset()
    return copied
