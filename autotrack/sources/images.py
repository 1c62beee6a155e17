"""Image sequences: a folder of frames or a glob pattern, read in natural order."""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2

from autotrack.sources.base import Frame, RateMeter, Source, SourceError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _natural_key(path: Path) -> list:
    """Sort key that orders numbers by value, so frame2.jpg comes before frame10.jpg."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def list_images(spec: str | os.PathLike) -> list[Path]:
    """The image files of a folder, or those matching a glob pattern (`"frames/*.jpg"`), in natural order."""
    text = str(spec)
    if any(char in text for char in "*?["):  # a glob pattern
        candidates, where = [Path(p) for p in glob.glob(text)], f"matching {text}"
    elif os.path.isdir(text):
        candidates, where = list(Path(text).iterdir()), f"in folder {text}"
    else:
        raise SourceError(f"no such image folder: {text}")
    paths = [p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not paths:
        raise SourceError(f"no images {where} (looked for {' '.join(IMAGE_EXTENSIONS)})")
    return sorted(paths, key=_natural_key)


class ImageSource(Source):
    """Frames from a list of image files; `index` is the position in the list and `timestamp` is `index / fps`.

    An image sequence has no clock, so `fps` (default 30) only sets the timestamps. An image that cannot be
    decoded after the first is skipped and counted in `stats.dropped`, with a warning that names it; every image
    must have the size of the first.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], fps: float = 30.0):
        super().__init__()
        if fps <= 0:
            raise SourceError(f"fps must be positive, got {fps}")
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise SourceError("no images to read")
        first = cv2.imread(str(self.paths[0]))
        if first is None:
            raise SourceError(f"cannot decode image {self.paths[0]}")
        self.fps = float(fps)
        self.size = (first.shape[1], first.shape[0])
        self.total = len(self.paths)
        self._next_index = 0

    def __iter__(self) -> Iterator[Frame]:
        meter = RateMeter()
        while self._next_index < self.total:
            index, path = self._next_index, self.paths[self._next_index]
            self._next_index += 1
            image = cv2.imread(str(path))
            if image is None:
                self.stats.dropped += 1
                logger.warning("skipped frame %d: cannot decode image %s", index, path)
                continue
            if (image.shape[1], image.shape[0]) != self.size:
                raise SourceError(
                    f"image {path} is {image.shape[1]}x{image.shape[0]}, but the sequence is "
                    f"{self.size[0]}x{self.size[1]} (frame {index})"
                )
            self.stats.input_fps = meter.tick()
            yield Frame(index, index / self.fps, image)
