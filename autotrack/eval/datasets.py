"""Find the sequences of a dataset in one of the layouts autotrack's metrics read.

- `davis` (VOS, J&F): `JPEGImages/480p/<seq>/*.jpg` and `Annotations/480p/<seq>/*.png`, or the same without the
  480p level (as `write_scenario` writes).
- `mot` (MOTChallenge, HOTA): `<seq>/img1/*.jpg`, `<seq>/gt/gt.txt`, optional `<seq>/det/det.txt`.
- `otb` (SOT, AUC): `<seq>/img/*.jpg` and `<seq>/groundtruth_rect.txt` (or LaSOT's `groundtruth.txt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autotrack.errors import InputError
from autotrack.eval.sot import GT_FILE_NAMES
from autotrack.sources.images import list_images

LAYOUTS = ("davis", "mot", "otb")


@dataclass
class Sequence:
    """One sequence: its frames in order and where its ground truth is."""

    name: str
    images: list[Path]
    ground_truth: Path  # davis: the annotation folder; mot: gt.txt; otb: the box file
    detections: Path | None = None  # mot: det/det.txt when the sequence has one


def detect_layout(root: Path) -> str:
    """The layout of a dataset folder; davis first, since a folder `write_scenario` wrote is also in mot layout."""
    if (root / "JPEGImages").is_dir() and (root / "Annotations").is_dir():
        return "davis"
    subdirs = [d for d in root.iterdir() if d.is_dir()]
    if any((d / "img1").is_dir() and (d / "gt" / "gt.txt").is_file() for d in subdirs):
        return "mot"
    if any((d / "img").is_dir() and any((d / name).is_file() for name in GT_FILE_NAMES) for d in subdirs):
        return "otb"
    raise InputError(f"{root}: not a dataset layout autotrack knows (DAVIS JPEGImages/ + Annotations/, "
                     "MOTChallenge <seq>/img1 + <seq>/gt/gt.txt, or OTB <seq>/img + <seq>/groundtruth_rect.txt)")


def find_sequences(root: str | Path, layout: str | None = None,
                   names: list[str] | None = None) -> tuple[str, list[Sequence]]:
    """The layout (detected when None) and the sequences of a dataset, all of them or those in `names`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    layout = layout or detect_layout(root)
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    found = {"davis": _davis, "mot": _mot, "otb": _otb}[layout](root)
    if not found:
        raise InputError(f"no {layout} sequences in {root}")
    if names:
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise InputError(f"no sequence(s) {', '.join(unknown)} in {root}; it has {', '.join(found)}")
        found = {name: found[name] for name in names}
    return layout, list(found.values())


def _davis(root: Path) -> dict[str, Sequence]:
    images, annotations = root / "JPEGImages", root / "Annotations"
    if (images / "480p").is_dir():
        images, annotations = images / "480p", annotations / "480p"
    return {
        d.name: Sequence(d.name, list_images(d), annotations / d.name)
        for d in sorted(images.iterdir())
        if d.is_dir() and (annotations / d.name).is_dir()
    }


def _mot(root: Path) -> dict[str, Sequence]:
    sequences = {}
    for d in sorted(root.iterdir()):
        if (d / "img1").is_dir() and (d / "gt" / "gt.txt").is_file():
            det = d / "det" / "det.txt"
            sequences[d.name] = Sequence(d.name, list_images(d / "img1"), d / "gt" / "gt.txt",
                                         det if det.is_file() else None)
    return sequences


def _otb(root: Path) -> dict[str, Sequence]:
    sequences = {}
    for d in sorted(root.iterdir()):
        gt = next((d / name for name in GT_FILE_NAMES if (d / name).is_file()), None)
        if (d / "img").is_dir() and gt is not None:
            sequences[d.name] = Sequence(d.name, list_images(d / "img"), gt)
    return sequences
