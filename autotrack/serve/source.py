"""ConsoleSource: what the console and its web app use of a source, wherever it runs: in this process
(`SourceWorker`) or on a Ray actor (`RemoteSource`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from autotrack.serve.cameras import Camera
from autotrack.serve.channel import Channel
from autotrack.types import Prompt


class ConsoleSource(ABC):
    """One source of a console: its controls, the requests on its objects, and what the pages read of it. Every
    method is safe from any thread; a request that does not fit the source's state raises `Conflict`, one about an
    object, file or source that is not there raises `NotFound` (both in `autotrack.serve.worker`).

    Attributes:
        id: the source's ID in URLs and folder names.
        name: the source as the user gave it (credentials removed).
        camera: what the source is and how it runs (written back to the camera list).
        source_dir: the folder every run of the source writes into (downloads come only from here).
        channel: where each frame's message (with its JPEG) and each state change are published.
        last_frame: the latest frame message, or None before the first frame of a run.
        jpeg: the latest annotated frame (JPEG), or None before the first frame.
    """

    id: str
    name: str
    camera: Camera
    source_dir: Path
    channel: Channel
    last_frame: dict | None
    jpeg: bytes | None

    # ------------------------------------------------------------------------------------------------- controls
    @abstractmethod
    def start(self) -> None:
        """Resume a paused run, or start a new run (in a new output folder) when none is going on."""

    @abstractmethod
    def pause(self) -> None:
        """Stop taking frames until `start`."""

    @abstractmethod
    def stop(self, wait: float | None = None) -> None:
        """End the run, its files complete; wait up to `wait` seconds for it to end."""

    @abstractmethod
    def close(self, wait: float | None = None) -> None:
        """`stop`, and release what the source holds (its events delivered, its place on an actor)."""

    @abstractmethod
    def sweep(self, now: float | None = None) -> list[Path]:
        """Delete the outputs the camera's retention no longer keeps at `now`; the files deleted."""

    # ------------------------------------------------------------------------------------------------- requests
    @abstractmethod
    def add_prompt(self, prompt: Prompt, object_id: int | None = None, class_name: str = "") -> int:
        """Prompt a new object (`object_id` None) or re-prompt a live one on the next frame; returns its ID."""

    @abstractmethod
    def remove_object(self, object_id: int) -> None:
        """Stop following a live object from the next frame on; its ID is retired."""

    @abstractmethod
    def merge(self, keep: int, other: int) -> None:
        """Live object `other` is gallery object `keep`: from the next frame on it carries ID `keep`."""

    @abstractmethod
    def split(self, object_id: int) -> int:
        """Undo a wrong revival (or merge) of a live object; returns the new ID it carries from the next frame."""

    @abstractmethod
    def set_classes(self, classes: list[str] | None) -> None:
        """Change the detector's classes (or text prompts) mid-stream (None: every class)."""

    # ------------------------------------------------------------------------------------------------- reading
    @abstractmethod
    def info(self) -> dict:
        """The source's state for the API and the pages (the fields of the API's `SourceInfo`)."""

    @abstractmethod
    def events(self) -> list[dict]:
        """The event log, oldest first."""

    @abstractmethod
    def files(self) -> list[dict]:
        """Files the source's runs wrote: path relative to `source_dir`, and size in bytes."""

    @abstractmethod
    def gallery(self) -> list[dict]:
        """The objects re-identification remembers, most recently seen first (empty when it is off)."""

    @abstractmethod
    def thumbnail(self, object_id: int) -> bytes:
        """A gallery object's picture (JPEG): its box on the latest frame that added to its gallery."""
