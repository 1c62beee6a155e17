"""SOT metrics on OTB "Crossing": perfect and shifted predictions with hand-checked values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotrack.eval.sot import evaluate_sot, precision, read_boxes, success_auc

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CROSSING = DATA / "otb_crossing" / "Crossing" / "groundtruth_rect.txt"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present")

# Success is "IoU > t" for t = 0, 0.05, ..., 1 (OTB / LaSOT toolkits); no IoU exceeds 1, so perfect = 20/21.
PERFECT_AUC = 100 * 20 / 21


def write_boxes(path: Path, boxes: np.ndarray, separator: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(separator.join(f"{v:g}" for v in box) + "\n" for box in boxes))
    return path


def test_ground_truth_against_itself():
    results = evaluate_sot(CROSSING, CROSSING)
    assert list(results) == ["Crossing", "COMBINED"]
    assert results["Crossing"] == pytest.approx({"AUC": PERFECT_AUC, "Precision": 100.0})
    assert results["COMBINED"] == results["Crossing"]


def test_shift_by_half_the_width(tmp_path):
    """Each box moved right by half its width: IoU = (w/2)/(3w/2) = 1/3 in every frame, so success holds for
    t = 0, 0.05, ..., 0.30 (7 of 21 thresholds); the centre moves w/2 <= 11 px (widths are 13..22 px)."""
    gt = read_boxes(CROSSING)
    assert gt[:, 2].max() <= 22
    shifted = gt.copy()
    shifted[:, 0] += gt[:, 2] / 2
    results = evaluate_sot(CROSSING, write_boxes(tmp_path / "shifted.txt", shifted))
    assert results["Crossing"]["AUC"] == pytest.approx(100 * 7 / 21)
    assert results["Crossing"]["Precision"] == 100.0


def test_shift_beyond_the_precision_radius():
    """A (15, 20) px shift puts every centre 25 px away: precision 0; IoU stays above 0 for some frames."""
    gt = read_boxes(CROSSING)
    shifted = gt + [15, 20, 0, 0]
    assert precision(gt, shifted) == 0.0
    assert precision(gt, shifted, radius_px=25.0) == 100.0
    assert 0 < success_auc(gt, shifted) < 100 * 7 / 21


def test_lasot_style_folders_skip_absent_frames_and_average_sequences(tmp_path):
    gt = read_boxes(CROSSING)
    absent = gt.copy()
    absent[:10] = 0  # target absent: LaSOT marks it with an empty box; these frames are not scored
    wrong_there = gt.copy()
    wrong_there[:10] += [100, 100, 0, 0]
    write_boxes(tmp_path / "gt" / "seq-a" / "groundtruth.txt", absent, separator="\t")
    write_boxes(tmp_path / "pred" / "seq-a.txt", wrong_there)
    write_boxes(tmp_path / "gt" / "seq-b" / "groundtruth.txt", gt, separator=" ")
    shifted = gt.copy()
    shifted[:, 0] += gt[:, 2] / 2
    write_boxes(tmp_path / "pred" / "seq-b.txt", shifted)

    results = evaluate_sot(tmp_path / "gt", tmp_path / "pred")
    assert results["seq-a"] == pytest.approx({"AUC": PERFECT_AUC, "Precision": 100.0})
    assert results["seq-b"] == pytest.approx({"AUC": 100 * 7 / 21, "Precision": 100.0})
    assert results["COMBINED"] == pytest.approx({"AUC": (PERFECT_AUC + 100 * 7 / 21) / 2, "Precision": 100.0})


def test_missing_prediction_counts_as_failure():
    gt = read_boxes(CROSSING)
    pred = gt.copy()
    pred[: len(gt) // 2] = np.nan
    half = (len(gt) - len(gt) // 2) / len(gt)
    assert precision(gt, pred) == pytest.approx(100 * half)
    assert success_auc(gt, pred) == pytest.approx(PERFECT_AUC * half)


def test_bad_input_is_reported(tmp_path):
    gt = read_boxes(CROSSING)
    with pytest.raises(ValueError, match="119 boxes, but the ground truth has 120"):
        evaluate_sot(CROSSING, write_boxes(tmp_path / "short.txt", gt[:-1]))
    (tmp_path / "bad.txt").write_text("1,2,3,4\n1,2,three,4\n")
    with pytest.raises(ValueError, match="line 2"):
        read_boxes(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError, match="prediction not found"):
        evaluate_sot(CROSSING, tmp_path / "missing.txt")
