"""Frame sources: video files, image folders and globs, webcams, network streams and numpy iterables.

Every source yields `Frame`s, exposes `fps`, `size`, `total` and `stats`, raises `SourceError` with a one-line
message, and is a context manager. `open_source(spec)` picks the right one.
"""

from autotrack.sources.arrays import ArraySource
from autotrack.sources.base import Frame, Source, SourceError, SourceStats
from autotrack.sources.factory import is_live, open_source
from autotrack.sources.images import ImageSource, list_images
from autotrack.sources.live import LiveSource
from autotrack.sources.video import VideoSource

__all__ = [
    "ArraySource",
    "Frame",
    "ImageSource",
    "LiveSource",
    "Source",
    "SourceError",
    "SourceStats",
    "VideoSource",
    "is_live",
    "list_images",
    "open_source",
]
