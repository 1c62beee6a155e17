"""MOT metrics: parity with TrackEval run directly, and the MOTChallenge devkit values for TUD."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import trackeval

from autotrack.errors import InputError
from autotrack.eval.mot import evaluate_mot, find_mot_sequences, read_mot_file
from autotrack.sinks.mot import format_mot_row

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
MOT17 = DATA / "mot17_gt_mpntrack"
MOT17_GT = MOT17 / "gt/mot_challenge/MOT17"
MOT17_PRED = MOT17 / "trackers/mot_challenge/MOT17/MPNTrack/data"
TUD = DATA / "motmetrics_tud"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present")

# Four of the seven MOT17 train sequences (FRCNN), 46k of the 205k ground-truth rows, to keep the test short;
# the other three (02, 04, 13) give the same parity but triple the run time.
MOT17_SEQUENCES = [f"MOT17-{n:02d}-FRCNN" for n in (5, 9, 10, 11)]

# py-motmetrics 1.4.0, tests/test_metrics.py::test_motchallenge_files: the MOTChallenge devkit's numbers.
TUD_DEVKIT = {
    "TUD-Campus": {"IDF1": 55.7659, "MOTA": 52.6462, "IDSW": 7},
    "TUD-Stadtmitte": {"IDF1": 64.4619, "MOTA": 56.4014, "IDSW": 7},
    "COMBINED": {"IDF1": 62.4296, "MOTA": 55.5116, "IDSW": 14},
}


def cli_layout(tmp_path: Path, gt_files: dict[str, Path], pred_files: dict[str, Path]) -> tuple[Path, Path]:
    """Symlink a CLI-layout view: tmp/gt/<seq>/gt/gt.txt (+ seqinfo.ini if present) and tmp/pred/<seq>.txt."""
    gt_root, pred_dir = tmp_path / "gt", tmp_path / "pred"
    pred_dir.mkdir()
    for seq, gt_file in gt_files.items():
        (gt_root / seq / "gt").mkdir(parents=True)
        (gt_root / seq / "gt" / "gt.txt").symlink_to(gt_file.resolve())
        ini = gt_file.parent.parent / "seqinfo.ini"
        if ini.is_file():
            (gt_root / seq / "seqinfo.ini").symlink_to(ini.resolve())
        (pred_dir / f"{seq}.txt").symlink_to(pred_files[seq].resolve())
    return gt_root, pred_dir


def trackeval_mot17_direct(sequences: list[str]) -> dict:
    """TrackEval on its own layout of the MOT17 data, the way its run_mot_challenge script does it."""
    evaluator = trackeval.Evaluator(
        {"PRINT_RESULTS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
         "TIME_PROGRESS": False, "PRINT_CONFIG": False, "LOG_ON_ERROR": None}
    )
    dataset = trackeval.datasets.MotChallenge2DBox(
        {"GT_FOLDER": str(MOT17 / "gt/mot_challenge/MOT17"),
         "TRACKERS_FOLDER": str(MOT17 / "trackers/mot_challenge/MOT17"), "TRACKERS_TO_EVAL": ["MPNTrack"],
         "SKIP_SPLIT_FOL": True, "SEQ_INFO": {seq: None for seq in sequences}, "BENCHMARK": "MOT17",
         "PRINT_CONFIG": False}
    )
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
    with contextlib.redirect_stdout(io.StringIO()):
        results, _ = evaluator.evaluate([dataset], metrics)
    return results["MotChallenge2DBox"]["MPNTrack"]["COMBINED_SEQ"]["pedestrian"]


def test_mot17_matches_trackeval_run_directly(tmp_path):
    gt_files = {seq: MOT17 / "gt/mot_challenge/MOT17" / seq / "gt/gt.txt" for seq in MOT17_SEQUENCES}
    pred_files = {seq: MOT17 / "trackers/mot_challenge/MOT17/MPNTrack/data" / f"{seq}.txt" for seq in MOT17_SEQUENCES}
    gt_root, pred_dir = cli_layout(tmp_path, gt_files, pred_files)

    ours = evaluate_mot(gt_root, pred_dir)
    direct = trackeval_mot17_direct(MOT17_SEQUENCES)

    assert list(ours) == [*MOT17_SEQUENCES, "COMBINED"]
    combined = ours["COMBINED"]
    assert combined["HOTA"] == pytest.approx(100 * np.mean(direct["HOTA"]["HOTA"]), abs=1e-9)
    assert combined["DetA"] == pytest.approx(100 * np.mean(direct["HOTA"]["DetA"]), abs=1e-9)
    assert combined["AssA"] == pytest.approx(100 * np.mean(direct["HOTA"]["AssA"]), abs=1e-9)
    assert combined["MOTA"] == pytest.approx(100 * direct["CLEAR"]["MOTA"], abs=1e-9)
    assert combined["IDF1"] == pytest.approx(100 * direct["Identity"]["IDF1"], abs=1e-9)
    assert combined["IDSW"] == direct["CLEAR"]["IDSW"]
    # MPNTrack's published MOT17-train numbers are in this range; guards against a silently empty evaluation.
    assert 55 < combined["HOTA"] < 70 and 55 < combined["MOTA"] < 70


def test_tud_reproduces_motchallenge_devkit_values(tmp_path):
    sequences = ["TUD-Campus", "TUD-Stadtmitte"]  # no seqinfo.ini: the length comes from the files
    gt_root, pred_dir = cli_layout(
        tmp_path, {s: TUD / s / "gt.txt" for s in sequences}, {s: TUD / s / "test.txt" for s in sequences}
    )
    results = evaluate_mot(gt_root, pred_dir)

    for name, expected in TUD_DEVKIT.items():
        assert results[name]["IDF1"] == pytest.approx(expected["IDF1"], abs=1e-3)
        assert results[name]["MOTA"] == pytest.approx(expected["MOTA"], abs=1e-3)
        assert results[name]["IDSW"] == expected["IDSW"]


def test_perfect_tracker_scores_100(tmp_path):
    seq = "TUD-Campus"
    gt_root, pred_dir = cli_layout(tmp_path, {seq: TUD / seq / "gt.txt"}, {seq: TUD / seq / "gt.txt"})
    combined = evaluate_mot(gt_root, pred_dir)["COMBINED"]
    assert combined == {"HOTA": 100.0, "DetA": 100.0, "AssA": 100.0, "MOTA": 100.0, "IDF1": 100.0, "IDSW": 0}


def test_missing_prediction_file_is_reported(tmp_path):
    seq = "TUD-Campus"
    gt_root, pred_dir = cli_layout(tmp_path, {seq: TUD / seq / "gt.txt"}, {seq: TUD / seq / "test.txt"})
    (pred_dir / f"{seq}.txt").unlink()
    with pytest.raises(FileNotFoundError, match="TUD-Campus.txt"):
        evaluate_mot(gt_root, pred_dir)


@pytest.mark.parametrize(
    "content, message",
    [
        ("1,1,10,10,5,5,1\n2,oops,10,10,5,5,1\n", "not a MOTChallenge text file"),
        ("1,1,10,10,5,5,1\n1,1,20,20,5,5,1\n", "TrackEval"),  # one id twice in a frame: TrackEval's error
    ],
)
def test_bad_prediction_files_become_value_errors(tmp_path, content, message):
    seq = "TUD-Campus"
    gt_root, pred_dir = cli_layout(tmp_path, {seq: TUD / seq / "gt.txt"}, {seq: TUD / seq / "test.txt"})
    (pred_dir / f"{seq}.txt").unlink()
    (pred_dir / f"{seq}.txt").write_text(content)
    with pytest.raises(ValueError, match=message):
        evaluate_mot(gt_root, pred_dir)


def test_distractors_follow_mot17_rules_when_ground_truth_has_classes(tmp_path):
    """Frame 1: a pedestrian (class 1) and a static person (class 7, not scored); the tracker boxes both."""
    (tmp_path / "gt" / "seq" / "gt").mkdir(parents=True)
    (tmp_path / "gt" / "seq" / "gt" / "gt.txt").write_text("1,1,10,10,20,40,1,1,1\n1,2,100,10,20,40,0,7,1\n")
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "seq.txt").write_text("1,1,10,10,20,40,1,-1,-1,-1\n1,2,100,10,20,40,1,-1,-1,-1\n")

    # MOT17 rules (inferred from the class column) drop the box on the distractor ...
    assert evaluate_mot(tmp_path / "gt", tmp_path / "pred")["COMBINED"]["MOTA"] == 100.0
    # ... MOT15 rules have no classes, so the same box is a false positive.
    assert evaluate_mot(tmp_path / "gt", tmp_path / "pred", benchmark="MOT15")["COMBINED"]["MOTA"] == 0.0


def test_named_sequences_are_scored_alone(tmp_path):
    every = sorted(d.name for d in MOT17_GT.iterdir())
    gt_root, pred_dir = cli_layout(tmp_path, {seq: MOT17_GT / seq / "gt/gt.txt" for seq in every},
                                   {seq: MOT17_PRED / f"{seq}.txt" for seq in every})
    named = ["MOT17-09-FRCNN", "MOT17-05-FRCNN"]

    ours = evaluate_mot(gt_root, pred_dir, sequences=named)

    assert len(every) == 7 and list(ours) == [*named, "COMBINED"]
    direct = trackeval_mot17_direct(named)
    assert ours["COMBINED"]["HOTA"] == pytest.approx(100 * np.mean(direct["HOTA"]["HOTA"]), abs=1e-9)
    assert ours["COMBINED"]["MOTA"] == pytest.approx(100 * direct["CLEAR"]["MOTA"], abs=1e-9)
    with pytest.raises(InputError, match="no sequence MOT17-99-FRCNN in .*; it has MOT17-02-FRCNN"):
        evaluate_mot(gt_root, pred_dir, sequences=["MOT17-05-FRCNN", "MOT17-99-FRCNN"])


def test_sequences_without_predictions_are_left_out(tmp_path):
    sequences = ["TUD-Campus", "TUD-Stadtmitte"]
    gt_root, pred_dir = cli_layout(
        tmp_path, {s: TUD / s / "gt.txt" for s in sequences}, {s: TUD / s / "test.txt" for s in sequences}
    )
    (pred_dir / "TUD-Stadtmitte.txt").unlink()

    assert find_mot_sequences(gt_root, pred_dir) == (["TUD-Campus"], ["TUD-Stadtmitte"])
    results = evaluate_mot(gt_root, pred_dir)
    assert list(results) == ["TUD-Campus", "COMBINED"]
    assert results["COMBINED"]["MOTA"] == pytest.approx(TUD_DEVKIT["TUD-Campus"]["MOTA"], abs=1e-3)
    with pytest.raises(FileNotFoundError, match="TUD-Stadtmitte.txt"):  # named, so its predictions are needed
        evaluate_mot(gt_root, pred_dir, sequences=["TUD-Stadtmitte"])


def write_excerpt(path: Path, gt_file: Path, last_frame: int) -> None:
    """A perfect tracker's output for frames 1..last_frame: the pedestrians MOT17 scores, as tracker rows."""
    rows = read_mot_file(gt_file, min_columns=8)
    rows = rows[(rows[:, 0] <= last_frame) & (rows[:, 7] == 1) & (rows[:, 6] == 1)]
    path.write_text("".join(format_mot_row(int(r[0]), int(r[1]), np.r_[r[2:4], r[2:4] + r[4:6]], 1) for r in rows))


def test_frames_present_scores_an_excerpt_up_to_its_last_frame(tmp_path):
    """Predictions for the first 4 of 525 frames: perfect on those with "present", mostly misses with "all"."""
    seq = "MOT17-09-FRCNN"
    gt_root, pred_dir = cli_layout(tmp_path, {seq: MOT17_GT / seq / "gt/gt.txt"}, {seq: MOT17_PRED / f"{seq}.txt"})
    (pred_dir / f"{seq}.txt").unlink()
    write_excerpt(pred_dir / f"{seq}.txt", MOT17_GT / seq / "gt/gt.txt", last_frame=4)

    present = evaluate_mot(gt_root, pred_dir, frames="present")["COMBINED"]
    every_frame = evaluate_mot(gt_root, pred_dir, frames="all")["COMBINED"]

    assert present == {"HOTA": 100.0, "DetA": 100.0, "AssA": 100.0, "MOTA": 100.0, "IDF1": 100.0, "IDSW": 0}
    assert 0 < every_frame["MOTA"] < 5 and every_frame["HOTA"] < 5  # 521 frames of misses
    with pytest.raises(InputError, match="unknown frames rule 'some'"):
        evaluate_mot(gt_root, pred_dir, frames="some")
