"""Whole-file outputs never lose a good file: a file already at the output path is replaced only when the new one
is complete.

A new output is written in place, so another process can follow it while the run goes on and even a killed run
leaves what it wrote. Where a file already is (an earlier run's results), the new one is written beside it under a
hidden name (`.tracked.partial.txt`; the suffix kept, so writers that choose the format by suffix still do) and
renamed over the old one when the sink closes: at the end of the run, on Ctrl-C or SIGTERM, or after an error (the
outputs are complete and valid for the frames processed). A run that dies before closing (killed, out of memory,
power lost) leaves the old file as it was, and the partial one beside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def staging_path(path: str | Path) -> Path:
    """Where to write the output `path`: itself when no file is there yet, else a hidden name beside it."""
    path = Path(path)
    return _hidden(path) if path.is_file() else path


def commit(staging: Path, path: str | Path) -> None:
    """Put a closed output written at `staging` (from `staging_path`) in its place; nothing to do when in place."""
    if staging != Path(path):
        os.replace(staging, path)


def write_whole(path: str | Path, write: Callable[[Path], object]) -> None:
    """Write a file made in one go (a report, a plot) with `write(temporary_path)` under a hidden name beside `path`,
    then rename it into place: a reader, or an interrupted run, sees the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(_hidden(path))
    os.replace(_hidden(path), path)


def _hidden(path: Path) -> Path:
    """The hidden name beside `path` (`.tracked.partial.txt`), its suffix kept for writers that read it."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")
