"""Output retention per camera (`retention: {max_age: 7d, max_size: 2GB}` in a camera list): a camera's old output
files are deleted, oldest first, once older than `max_age` or while its folder holds more than `max_size`.

Only regular files inside the camera's own output folder are ever deleted: the folder is walked without following
links, a link (to a file or a folder) is never deleted nor followed, and each path is checked to resolve inside the
folder just before it goes. The run being written (its whole folder) is never touched, though its files count
towards `max_size`. A run folder left empty is removed.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from autotrack.errors import InputError

logger = logging.getLogger(__name__)

AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
AMOUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


@dataclass(frozen=True)
class Retention:
    """How long (`max_age`, seconds) and how much (`max_size`, bytes) of a camera's outputs to keep; None: no
    limit."""

    max_age: float | None = None
    max_size: int | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> Retention:
        """From a camera list's `{max_age: 7d, max_size: 2GB}` (either or both; a bare number is seconds or
        bytes); one-line errors."""
        keys = ("max_age", "max_size")
        if not isinstance(data, dict) or not data or set(data) - set(keys):
            raise InputError(f"{where} is a mapping with max_age (e.g. 7d, 12h) and/or max_size "
                             f"(e.g. 2GB, 500MB), got {data!r}")
        age = _amount(data.get("max_age"), AGE_UNITS, "s", f"{where} max_age", "s, m, h, d, w")
        size = _amount(data.get("max_size"), SIZE_UNITS, "b", f"{where} max_size", "B, KB, MB, GB, TB, "
                       "KiB, MiB, GiB, TiB")
        return cls(age, None if size is None else int(size))


def _amount(value: object, units: dict[str, int], default: str, where: str, names: str) -> float | None:
    """A positive number with an optional unit, in the base unit; None when not given."""
    if value is None:
        return None
    match = AMOUNT.fullmatch(str(value)) if not isinstance(value, bool) else None
    unit = match.group(2).lower() or default if match else None
    if match is None or unit not in units or float(match.group(1)) <= 0:
        raise InputError(f"{where} is a positive number with a unit ({names}), got {value!r}")
    return float(match.group(1)) * units[unit]


def sweep(folder: Path, rule: Retention, keep: Path | None, now: float) -> list[Path]:
    """Delete the files of `folder` that `rule` no longer keeps at time `now` (seconds since the epoch), oldest
    (by modification time) first, never one under `keep` (the run being written); the files deleted."""
    root = Path(os.path.realpath(folder))
    if not root.is_dir():
        return []
    keep = None if keep is None else Path(os.path.realpath(keep))
    total, candidates = 0, []
    for directory, _, names in os.walk(root):  # links to folders are listed, not followed
        for name in names:
            path = Path(directory) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):  # a link, a pipe, ...: never deleted
                continue
            total += info.st_size
            if keep is None or not path.is_relative_to(keep):
                candidates.append((info.st_mtime, info.st_size, path))
    deleted = []
    for mtime, size, path in sorted(candidates):
        too_old = rule.max_age is not None and now - mtime > rule.max_age
        too_big = rule.max_size is not None and total > rule.max_size
        if not (too_old or too_big):
            break  # the rest are newer, and the total only went down
        if not Path(os.path.realpath(path)).is_relative_to(root):  # a folder replaced by a link meanwhile
            continue
        try:
            path.unlink()
        except OSError as error:
            logger.warning("retention: cannot delete %s: %s", path, error)
            continue
        total -= size
        deleted.append(path)
        _remove_empty(path.parent, root)
    if deleted:
        logger.info("retention: deleted %d old files from %s", len(deleted), folder)
    return deleted


def _remove_empty(directory: Path, root: Path) -> None:
    """Remove `directory` and its parents up to (not including) `root` while they are empty."""
    while directory != root and directory.is_relative_to(root):
        try:
            directory.rmdir()
        except OSError:  # not empty (or gone)
            return
        directory = directory.parent
