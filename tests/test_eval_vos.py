"""VOS metrics on DAVIS-2016 masks: perfect scores, and parity with TrackEval's JAndF run directly."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import trackeval
from PIL import Image

from autotrack.eval.vos import evaluate_vos, read_label_map

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DAVIS = DATA / "davis2016" / "Annotations" / "480p"

pytestmark = [
    pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present"),
    # TrackEval run directly: pycocotools' numpy-2 notice, once per mask
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SEQUENCES = ["car-shadow", "libby"]
FRAMES = 8  # the first frames of each sequence keep the test short


def davis_frames(seq: str) -> list[Path]:
    return sorted((DAVIS / seq).glob("*.png"))[:FRAMES]


def perturb(mask: np.ndarray) -> np.ndarray:
    """Erode by a 7x7 square and shift 6 px right: a plausible, imperfect prediction."""
    eroded = cv2.erode(mask, np.ones((7, 7), np.uint8))
    return np.roll(eroded, 6, axis=1)


def write_palette(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0] + [255, 255, 255] * 253)
    image.save(path)


def two_objects(binary: np.ndarray) -> np.ndarray:
    """Split a one-object mask at its mean column into objects 1 (left) and 2 (right), with a void band."""
    labels = np.zeros(binary.shape, np.uint8)
    columns = np.nonzero(binary)[1]
    split = int(columns.mean()) if len(columns) else binary.shape[1] // 2
    labels[:, :split][binary[:, :split] > 0] = 1
    labels[:, split:][binary[:, split:] > 0] = 2
    labels[:4, :] = 255  # DAVIS-2017 "void" pixels, ignored by the metric
    return labels


def trackeval_jandf_direct(gt_root: Path, trackers_root: Path) -> dict:
    """TrackEval's DAVIS dataset and JAndF metric on files it reads as they are (tracker "direct/data")."""
    dataset = trackeval.datasets.DAVIS(
        {"GT_FOLDER": str(gt_root), "TRACKERS_FOLDER": str(trackers_root), "TRACKERS_TO_EVAL": ["direct"],
         "SEQ_INFO": {seq: FRAMES for seq in SEQUENCES}, "PRINT_CONFIG": False}
    )
    evaluator = trackeval.Evaluator(
        {"PRINT_RESULTS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
         "TIME_PROGRESS": False, "PRINT_CONFIG": False, "LOG_ON_ERROR": None}
    )
    with contextlib.redirect_stdout(io.StringIO()):
        results, _ = evaluator.evaluate([dataset], [trackeval.metrics.JAndF()])
    return {seq: res["general"]["JAndF"] for seq, res in results["DAVIS"]["direct"].items()}


def assert_same_as_trackeval(ours: dict, direct: dict) -> None:
    for seq in [*SEQUENCES, "COMBINED"]:
        expected = direct["COMBINED_SEQ" if seq == "COMBINED" else seq]
        assert ours[seq]["J&F"] == pytest.approx(100 * expected["J&F"], abs=1e-9)
        assert ours[seq]["J"] == pytest.approx(100 * expected["J-Mean"], abs=1e-9)
        assert ours[seq]["F"] == pytest.approx(100 * expected["F-Mean"], abs=1e-9)


def test_ground_truth_against_itself_scores_100(tmp_path):
    for seq in SEQUENCES:
        (tmp_path / seq).mkdir()
        for frame in davis_frames(seq):
            (tmp_path / seq / frame.name).symlink_to(frame.resolve())
    results = evaluate_vos(tmp_path, tmp_path)
    assert list(results) == [*SEQUENCES, "COMBINED"]
    for scores in results.values():
        assert scores == {"J&F": 100.0, "J": 100.0, "F": 100.0}


def test_binary_masks_match_trackeval_on_the_same_masks_as_object_ids(tmp_path):
    """Binary 0/255 files for us; the same masks as 0/1 object ids for TrackEval, which reads 255 as void."""
    for seq in SEQUENCES:
        for frame in davis_frames(seq):
            gt = np.array(Image.open(frame))
            pred = perturb(gt)
            (tmp_path / "gt" / seq).mkdir(parents=True, exist_ok=True)
            (tmp_path / "gt" / seq / frame.name).symlink_to(frame.resolve())
            (tmp_path / "pred" / seq).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pred).save(tmp_path / "pred" / seq / frame.name)
            write_palette(tmp_path / "te_gt" / seq / frame.name, gt // 255)
            write_palette(tmp_path / "te_trackers" / "direct" / "data" / seq / frame.name, pred // 255)

    ours = evaluate_vos(tmp_path / "gt", tmp_path / "pred")
    direct = trackeval_jandf_direct(tmp_path / "te_gt", tmp_path / "te_trackers")

    assert_same_as_trackeval(ours, direct)
    assert 30 < ours["COMBINED"]["J&F"] < 99  # imperfect but not empty


def test_palette_masks_with_two_objects_and_void_match_trackeval(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "trackers" / "direct" / "data"
    for seq in SEQUENCES:
        for frame in davis_frames(seq):
            binary = np.array(Image.open(frame))
            write_palette(gt_root / seq / frame.name, two_objects(binary))
            write_palette(pred_root / seq / frame.name, two_objects(perturb(binary)) % 255)

    ours = evaluate_vos(gt_root, pred_root)
    direct = trackeval_jandf_direct(gt_root, tmp_path / "trackers")

    assert_same_as_trackeval(ours, direct)
    assert 30 < ours["COMBINED"]["J&F"] < 99


def test_read_label_map_conventions(tmp_path):
    binary = np.zeros((4, 5), np.uint8)
    binary[1:3, 1:4] = 255
    Image.fromarray(binary).save(tmp_path / "binary.png")
    assert read_label_map(tmp_path / "binary.png").tolist() == (binary // 255).tolist()

    ids = np.array([[0, 1, 2, 255]], np.uint8)
    write_palette(tmp_path / "palette.png", ids)
    assert read_label_map(tmp_path / "palette.png").tolist() == ids.tolist()  # 255 stays void

    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="single-channel"):
        read_label_map(tmp_path / "rgb.png")


def test_missing_predicted_frame_is_reported(tmp_path):
    seq = SEQUENCES[0]
    frames = davis_frames(seq)
    (tmp_path / "gt" / seq).mkdir(parents=True)
    (tmp_path / "pred" / seq).mkdir(parents=True)
    for frame in frames:
        (tmp_path / "gt" / seq / frame.name).symlink_to(frame.resolve())
    for frame in frames[:-1]:
        (tmp_path / "pred" / seq / frame.name).symlink_to(frame.resolve())
    with pytest.raises(FileNotFoundError, match=frames[-1].name):
        evaluate_vos(tmp_path / "gt", tmp_path / "pred")
