"""Video object segmentation metrics (J, F, J&F) on DAVIS layouts, computed by TrackEval's JAndF.

Layout: `GT_ROOT/<seq>/<frame>.png` and `PRED_ROOT/<seq>/<frame>.png`. A mask is either a palette (or
grayscale) PNG whose pixel values are object ids, with 0 background and 255 "void" in the ground truth
(DAVIS-2017), or a binary 0/255 grayscale PNG holding one object (DAVIS-2016). TrackEval reads every 255 as
void, so binary masks are relabelled to object 1 in a temporary copy before TrackEval sees them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import trackeval
from PIL import Image, UnidentifiedImageError

from autotrack.errors import InputError
from autotrack.eval._trackeval import run_trackeval


def evaluate_vos(gt_root: str | Path, pred_root: str | Path) -> dict[str, dict[str, float]]:
    """Score the predicted masks in `pred_root` against the ground-truth masks in `gt_root`.

    Every frame of the ground truth needs a prediction with the same file name; extra predicted frames are
    ignored. Returns `{sequence: {"J&F", "J", "F"}}` in percent plus a "COMBINED" entry (the mean over all
    ground-truth objects, as DAVIS reports it). Predicted objects are paired with ground-truth objects by
    TrackEval's best-J assignment, so ids need not match.
    """
    gt_root, pred_root = Path(gt_root), Path(pred_root)
    for root, what in ((gt_root, "ground-truth"), (pred_root, "prediction")):
        if not root.is_dir():
            raise FileNotFoundError(f"{what} folder not found: {root}")
    sequences = sorted(d.name for d in gt_root.iterdir() if d.is_dir() and any(d.glob("*.png")))
    if not sequences:
        raise InputError(f"no sequences in {gt_root}: expected <seq>/<frame>.png")

    with tempfile.TemporaryDirectory(prefix="autotrack-vos-") as tmp:
        lengths = {seq: _copy_as_labels(gt_root / seq, pred_root / seq, Path(tmp), seq) for seq in sequences}
        results = run_trackeval(
            trackeval.datasets.DAVIS,
            {
                "GT_FOLDER": str(Path(tmp) / "gt"),
                "TRACKERS_FOLDER": tmp,
                "TRACKERS_TO_EVAL": ["pred"],
                "TRACKER_SUB_FOLDER": "",
                "SEQ_INFO": lengths,
            },
            [trackeval.metrics.JAndF()],
        )
    summary = {seq: _summarise(results[seq]) for seq in sequences}
    summary["COMBINED"] = _summarise(results["COMBINED_SEQ"])
    return summary


def read_label_map(path: Path) -> np.ndarray:
    """Object id per pixel (uint8) of one mask PNG; a binary 0/255 grayscale mask becomes object 1."""
    try:
        with Image.open(path) as image:
            is_palette = image.mode == "P"
            labels = np.array(image)
    except (UnidentifiedImageError, OSError):
        raise InputError(f"{path}: not a readable PNG mask") from None
    if labels.dtype == bool:  # 1-bit PNG
        labels = labels.astype(np.uint8)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"{path}: expected a single-channel 8-bit mask (palette or grayscale)")
    if not is_palette and np.isin(labels, (0, 255)).all():
        labels = (labels == 255).astype(np.uint8)
    return labels


def _copy_as_labels(gt_dir: Path, pred_dir: Path, out_root: Path, seq: str) -> int:
    """Write a sequence's ground-truth and predicted label maps to out_root/{gt,pred}/seq; return its length."""
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found for sequence {seq}: {pred_dir}")
    frames = sorted(p.name for p in gt_dir.glob("*.png"))
    for side in ("gt", "pred"):
        (out_root / side / seq).mkdir(parents=True)
    for frame in frames:
        if not (pred_dir / frame).is_file():
            raise FileNotFoundError(f"no predicted mask for {seq}/{frame} in {pred_dir}")
        gt, pred = read_label_map(gt_dir / frame), read_label_map(pred_dir / frame)
        if gt.shape != pred.shape:
            raise InputError(f"{seq}/{frame}: predicted mask is {pred.shape}, ground truth is {gt.shape}")
        Image.fromarray(gt).save(out_root / "gt" / seq / frame, compress_level=1)
        Image.fromarray(pred).save(out_root / "pred" / seq / frame, compress_level=1)
    return len(frames)


def _summarise(result: dict) -> dict[str, float]:
    scores = result["JAndF"]
    return {
        "J&F": 100 * float(scores["J&F"]),
        "J": 100 * float(scores["J-Mean"]),
        "F": 100 * float(scores["F-Mean"]),
    }
