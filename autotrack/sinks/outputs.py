"""Outputs: the files (and window) a run writes, checked before any model loads and opened as sinks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autotrack.paths import NamedPath
from autotrack.sinks.base import OutputError, Sink


@dataclass
class Outputs:
    """Where a run writes its results; every output is optional.

    Attributes:
        video: annotated video (.mp4).
        mot: MOTChallenge txt.
        json: COCO-style JSON with RLE masks.
        masks_dir: folder of DAVIS-layout PNG masks.
        show: show the annotated frames in a window.
        dataset: folder of an auto-labelled training set (`DatasetSink`), in `dataset_format` ("yolo" or "coco"),
            every `dataset_every`-th frame.
    """

    video: str | Path | None = None
    mot: str | Path | None = None
    json: str | Path | None = None
    masks_dir: str | Path | None = None
    show: bool = False
    dataset: str | Path | None = None
    dataset_format: str = "yolo"
    dataset_every: int = 1

    def named_paths(self) -> list[NamedPath]:
        """Every path these outputs write, named by its option, for `autotrack.paths.check_paths`."""
        from autotrack.sinks.mot import classes_path

        named = [NamedPath(label, path) for label, path in (("--output", self.video), ("--mot", self.mot),
                                                            ("--json", self.json)) if path is not None]
        if self.mot is not None:
            named.append(NamedPath("--mot class file", classes_path(self.mot)))
        named += [NamedPath(label, path, folder=True) for label, path in (("--masks-dir", self.masks_dir),
                                                                        ("--dataset", self.dataset))
                  if path is not None]
        return named

    def check(self) -> None:
        """Fail with one line, before anything is opened or any model loads, when an output cannot be written: its
        folder is missing, the path is a folder (or, for `masks_dir`, a file), writing there is refused, or the
        video's suffix names no container it can write. Leaves nothing behind."""
        from autotrack.sinks.video import SUFFIXES

        if self.video is not None and Path(self.video).suffix.lower() not in SUFFIXES:
            raise OutputError(f"video output {self.video}: use a {', '.join(SUFFIXES)} file name")
        for path in (self.video, self.mot, self.json):
            if path is None:
                continue
            path = Path(path)
            if not path.parent.is_dir():
                raise OutputError(f"output folder does not exist: {path.parent}")
            if path.is_dir():
                raise OutputError(f"output {path} is a folder; give a file name")
            _try_writing(path)
        if self.masks_dir is not None:
            folder = Path(self.masks_dir)
            if folder.exists() and not folder.is_dir():
                raise OutputError(f"masks folder {folder} is a file")
            if not folder.exists() and not folder.parent.is_dir():
                raise OutputError(f"output folder does not exist: {folder.parent}")
            _try_writing((folder if folder.exists() else folder.parent) / ".autotrack-write-test")
        if self.dataset is not None:
            from autotrack.sinks.dataset import check_dataset

            check_dataset(self.dataset, self.dataset_format, self.dataset_every)

    def open(self, fps: float | None) -> list[Sink]:
        """The sinks for these outputs (a window first, so it shows every frame as soon as possible)."""
        from autotrack.sinks.coco import CocoJsonSink
        from autotrack.sinks.dataset import DatasetSink
        from autotrack.sinks.davis import DavisPngSink
        from autotrack.sinks.mot import MotSink
        from autotrack.sinks.video import VideoSink
        from autotrack.sinks.window import WindowSink

        sinks: list[Sink] = [WindowSink()] if self.show else []
        try:
            if self.video:
                sinks.append(VideoSink(self.video, fps or 30.0))
            if self.mot:
                sinks.append(MotSink(self.mot))
            if self.json:
                sinks.append(CocoJsonSink(self.json))
            if self.masks_dir:
                sinks.append(DavisPngSink(self.masks_dir))
            if self.dataset:
                sinks.append(DatasetSink(self.dataset, self.dataset_format, self.dataset_every))
        except BaseException:
            for sink in sinks:
                sink.close()
            raise
        return sinks


def _try_writing(path: Path) -> None:
    """Open `path` for appending (creating it when missing, then removing it again): OutputError if refused."""
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    if not existed:
        path.unlink()
