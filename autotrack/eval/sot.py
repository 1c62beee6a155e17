"""Single-object tracking metrics (success AUC and precision at 20 px) as the OTB and LaSOT toolkits define them.

A box file holds one `x,y,w,h` box per frame, comma, tab or space separated (OTB `groundtruth_rect.txt`,
LaSOT `groundtruth.txt`, and tracker results in the same form). Success at a threshold t is the share of
frames whose IoU with the ground truth is above t, for t = 0, 0.05, ..., 1; AUC is the mean over those 21
thresholds. Because no IoU exceeds 1, a perfect tracker scores 20/21 = 95.24%, as in the official toolkits.
Precision is the share of frames whose box centre lies within 20 px of the ground-truth centre.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import supervision as sv

from autotrack.errors import InputError

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_RADIUS_PX = 20.0
GT_FILE_NAMES = ("groundtruth_rect.txt", "groundtruth.txt")  # OTB, LaSOT


def evaluate_sot(gt: str | Path, pred: str | Path) -> dict[str, dict[str, float]]:
    """Score predicted boxes against ground-truth boxes, for one sequence or a folder of them.

    `gt` and `pred` are either two box files (the sequence is named after the ground truth's folder) or two
    folders: `gt/<seq>/groundtruth_rect.txt` (or `groundtruth.txt`) with `pred/<seq>.txt`. Returns
    `{sequence: {"AUC", "Precision"}}` in percent plus a "COMBINED" entry, the mean over sequences as the
    toolkits average their curves.
    """
    gt, pred = Path(gt), Path(pred)
    pairs = _sequence_files(gt, pred)
    summary = {}
    for seq, (gt_file, pred_file) in pairs.items():
        gt_boxes, pred_boxes = read_boxes(gt_file), read_boxes(pred_file)
        if len(gt_boxes) != len(pred_boxes):
            raise InputError(f"{pred_file}: {len(pred_boxes)} boxes, but the ground truth has {len(gt_boxes)}")
        # Frames without a ground-truth box (NaN or zero size: target absent or out of view) are not scored.
        visible = (gt_boxes[:, 2] > 0) & (gt_boxes[:, 3] > 0)  # False for NaN too
        if not visible.any():
            raise InputError(f"{gt_file}: no frame has a ground-truth box")
        summary[seq] = {
            "AUC": success_auc(gt_boxes[visible], pred_boxes[visible]),
            "Precision": precision(gt_boxes[visible], pred_boxes[visible]),
        }
    summary["COMBINED"] = {key: float(np.mean([s[key] for s in summary.values()])) for key in ("AUC", "Precision")}
    return summary


def read_boxes(path: Path) -> np.ndarray:
    """(N, 4) float array of x, y, w, h boxes, one per non-empty line; "NaN" marks a frame without a box."""
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            box = [float(value) for value in re.split(r"[,\s]+", line.strip())]
        except ValueError:
            box = []
        if len(box) != 4:
            raise InputError(f"{path}, line {number}: expected x,y,w,h, got {line.strip()!r}")
        boxes.append(box)
    if not boxes:
        raise InputError(f"{path}: no boxes")
    return np.array(boxes)


def success_auc(gt_boxes: np.ndarray, pred_boxes: np.ndarray) -> float:
    """Area under the success curve in percent for paired (N, 4) x,y,w,h boxes; a NaN prediction has IoU 0."""
    ious = np.array([sv.box_iou(_xyxy(g), _xyxy(p)) for g, p in zip(gt_boxes, pred_boxes)])
    success = [(ious > threshold).mean() for threshold in SUCCESS_THRESHOLDS]
    return 100 * float(np.mean(success))


def precision(gt_boxes: np.ndarray, pred_boxes: np.ndarray, radius_px: float = PRECISION_RADIUS_PX) -> float:
    """Percent of paired x,y,w,h boxes whose centres lie within `radius_px`; a NaN prediction is a miss."""
    errors = np.linalg.norm(_centre(gt_boxes) - _centre(pred_boxes), axis=1)
    return 100 * float((errors <= radius_px).mean())


def _xyxy(box: np.ndarray) -> np.ndarray:
    return np.concatenate([box[:2], box[:2] + box[2:]])


def _centre(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + boxes[:, 2:] / 2


def _sequence_files(gt: Path, pred: Path) -> dict[str, tuple[Path, Path]]:
    """Map each sequence name to its (ground-truth file, prediction file)."""
    if gt.is_file() and pred.is_file():
        return {gt.resolve().parent.name or gt.stem: (gt, pred)}
    for path, what in ((gt, "ground truth"), (pred, "prediction")):
        if not path.exists():
            raise FileNotFoundError(f"{what} not found: {path}")
    if not (gt.is_dir() and pred.is_dir()):
        raise InputError("give two box files, or two folders (<gt>/<seq>/groundtruth_rect.txt and <pred>/<seq>.txt)")
    pairs = {}
    for seq_dir in sorted(d for d in gt.iterdir() if d.is_dir()):
        gt_file = next((seq_dir / name for name in GT_FILE_NAMES if (seq_dir / name).is_file()), None)
        if gt_file is not None:
            pairs[seq_dir.name] = (gt_file, pred / f"{seq_dir.name}.txt")
    if not pairs:
        raise InputError(f"no sequences in {gt}: expected <seq>/{' or <seq>/'.join(GT_FILE_NAMES)}")
    return pairs
