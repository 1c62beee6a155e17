"""`open_source`: one entry point that picks the right source for whatever the user points at."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable

from autotrack.sources.arrays import ArraySource
from autotrack.sources.base import Source, SourceError
from autotrack.sources.images import ImageSource, list_images
from autotrack.sources.live import URL_SCHEMES, LiveSource
from autotrack.sources.video import VideoSource


def is_live(spec) -> bool:
    """Whether `open_source(spec)` opens a live input (a webcam index or a stream URL) rather than a recording."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return True
    return isinstance(spec, str) and (spec.isdigit() or spec.lower().startswith(URL_SCHEMES))


def _choose(spec) -> tuple[type[Source], object]:
    """The source class for `spec`, and the first argument to build it with."""
    if is_live(spec):
        return LiveSource, int(spec) if str(spec).isdigit() else spec
    if isinstance(spec, (str, os.PathLike)):
        path = str(spec)
        if os.path.isdir(path) or any(char in path for char in "*?["):
            return ImageSource, list_images(path)
        return VideoSource, path
    if isinstance(spec, Iterable):
        return ArraySource, spec
    raise SourceError(
        f"cannot read frames from a {type(spec).__name__}: give a file, folder, glob, webcam index, URL or "
        "iterable of frames"
    )


def open_source(spec, **options) -> Source:
    """Open a frame source.

    Args:
        spec: a video file path; an image folder or glob (`"frames/*.jpg"`); a webcam index (int or digit string);
            an rtsp://, rtmp:// or http(s):// URL (read as a live stream); or an iterable of HxWx3 BGR uint8
            numpy frames.
        **options: passed to the source's class: `fps` for `ImageSource` and `ArraySource`; `policy`,
            `buffer_size`, `open_timeout`, `read_timeout`, `reconnect`, ... for `LiveSource`.

    Raises:
        SourceError: the input does not exist, cannot be decoded or cannot be reached, or an option does not
            apply to it (one-line message).
    """
    source_class, argument = _choose(spec)
    try:
        inspect.signature(source_class).bind(argument, **options)
    except TypeError as error:
        raise SourceError(f"{source_class.__name__}: {error}") from None
    return source_class(argument, **options)
