"""Frame sources: video files, image folders and globs, webcams, network streams and numpy iterables.

Every source yields `Frame`s, exposes `fps`, `size`, `total` and `stats`, raises `SourceError` with a one-line
message, and is a context manager. `open_source(spec)` picks the right one; `RealTimeSource` plays a recording at
its own speed, as a camera would deliver it.
"""

from autotrack.sources.arrays import ArraySource
from autotrack.sources.base import Frame, Source, SourceError, SourceStats
from autotrack.sources.factory import is_live, open_source
from autotrack.sources.images import ImageSource, list_images
from autotrack.sources.live import LiveSource
from autotrack.sources.realtime import RealTimeSource
from autotrack.sources.video import VideoSource

__all__ = [
    "ArraySource",
    "Frame",
    "ImageSource",
    "LiveSource",
    "RealTimeSource",
    "Source",
    "SourceError",
    "SourceStats",
    "VideoSource",
    "is_live",
    "list_images",
    "open_source",
]
