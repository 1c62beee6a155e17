"""Outputs never touch inputs or each other: every path a run reads or writes, compared before anything opens.

Each path is named as the user gave it (`NamedPath("--mot", "out.txt")`, `NamedPath("input video", "clip.mp4")`).
`check_paths` refuses, in one line naming both paths:
- an output that is an input, or lies inside an input folder (an image sequence, a weights folder);
- an output folder (masks, dataset, batch results) that holds an input;
- two outputs on one path, or one inside the other's folder.
Two paths are one when they resolve to the same path (relative paths against the current folder, symlinks and `..`
resolved), name the same existing file (`os.path.samefile`: hard links, and case-folding filesystems such as
macOS's and Windows' defaults), or are two new files in one folder whose names differ only in case (one file where
the filesystem folds case; never what a user means elsewhere).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autotrack.errors import InputError


class PathClash(InputError):
    """An output would overwrite an input or another output; the message names both."""


@dataclass(frozen=True)
class NamedPath:
    """A path a run reads or writes, with what the user calls it; `folder` for an output folder or input folder."""

    label: str
    path: str | Path
    folder: bool = False

    def __str__(self) -> str:
        return f"{self.label} {self.path}"


def source_paths(spec: object, label: str = "input") -> list[NamedPath]:
    """The files or folder a source spec reads: a file, a folder, or each match of a glob; none for a webcam, a
    URL or frames in memory."""
    if not isinstance(spec, (str, Path)):
        return []
    text = str(spec)
    if os.path.exists(text):
        return [NamedPath(label, text, os.path.isdir(text))]
    if any(char in text for char in "*?["):
        return [NamedPath(label, match, os.path.isdir(match)) for match in sorted(glob.glob(text))]
    return []


def check_paths(inputs: Iterable[NamedPath], outputs: Iterable[NamedPath]) -> None:
    """Refuse an output that is, or lies in, an input; an output folder that holds an input; two outputs that are
    one path or one inside the other (see the module docstring). Opens and creates nothing."""
    inputs, outputs = list(inputs), list(outputs)
    for out in outputs:
        for given in inputs:
            if _same(out.path, given.path):
                raise PathClash(f"{out} is the {given}: writing it would destroy it; choose another path")
            if given.folder and _inside(out.path, given.path):
                raise PathClash(f"{out} lies inside the {given}; choose a path outside it")
            if out.folder and _inside(given.path, out.path):
                raise PathClash(f"{out} holds the {given}; choose a folder that does not")
    for i, first in enumerate(outputs):
        for second in outputs[i + 1:]:
            if _same(first.path, second.path):
                raise PathClash(f"{first} and {second} are one path; give each output its own")
            for outer, inner in ((first, second), (second, first)):
                if outer.folder and _inside(inner.path, outer.path):
                    raise PathClash(f"{inner} lies inside {outer}; give each output its own place")


def _resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _same(first: str | Path, second: str | Path) -> bool:
    a, b = _resolved(first), _resolved(second)
    if a == b:
        return True
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return not a.exists() and not b.exists() and a.parent == b.parent and a.name.casefold() == b.name.casefold()


def _inside(path: str | Path, folder: str | Path) -> bool:
    """Whether `path` lies somewhere below `folder`."""
    return any(_same(parent, folder) for parent in _resolved(path).parents)
