"""`autotrack eval run`: a pipeline with random SAM2 weights over DAVIS, OTB, MOT and synthetic datasets, then scored.

Random weights make the scores meaningless; the tests check that every layout runs end to end, writes its
predictions in the metric's layout and reports the right sequences and metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario

FAST = ["--sam-weights", "random", "--imgsz", "64", "--device", "cpu"]


def eval_run(*args) -> tuple[object, dict]:
    result = CliRunner().invoke(main, ["eval", "run", *map(str, args), *FAST])
    assert result.exit_code == 0, result.output
    json_path = Path(args[args.index("--json") + 1])
    return result, json.loads(json_path.read_text())


def test_davis_two_sequences_few_frames(data_dir, tmp_path):
    work = tmp_path / "work"
    result, table = eval_run(data_dir / "davis2016", "--sequences", "dog,libby", "--max-frames", "2",
                             "--work-dir", work, "--json", tmp_path / "vos.json")
    assert list(table) == ["dog", "libby", "COMBINED"]
    assert set(table["COMBINED"]) == {"J&F", "J", "F"}
    assert "J&F" in result.output
    for seq in ("dog", "libby"):
        predicted = sorted((work / "pred" / seq).glob("*.png"))
        assert [p.name for p in predicted] == ["00000.png", "00001.png"]
        truth = np.array(Image.open(data_dir / "davis2016" / "Annotations" / "480p" / seq / "00000.png"))
        assert np.array(Image.open(predicted[0])).shape == truth.shape


def test_otb_writes_one_box_per_frame(data_dir, tmp_path):
    work = tmp_path / "work"
    _, table = eval_run(data_dir / "otb_crossing", "--max-frames", "4", "--work-dir", work,
                        "--json", tmp_path / "sot.json")
    assert list(table) == ["Crossing", "COMBINED"]
    assert set(table["Crossing"]) == {"AUC", "Precision"}
    lines = (work / "pred" / "Crossing.txt").read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split(",")) == 4 for line in lines)


@pytest.fixture
def synthetic(tmp_path) -> Path:
    """A two-sequence synthetic set in DAVIS and MOT layouts, with det.txt files made from the ground truth."""
    root = tmp_path / "synthetic"
    for kind in ("crossing", "occlusion"):
        files = write_scenario(make_scenario(kind, n_frames=4, size=(160, 120), seed=1), root)
        gt = np.loadtxt(files.sequence_dir / "gt" / "gt.txt", delimiter=",", ndmin=2)
        (files.sequence_dir / "det").mkdir()
        np.savetxt(files.sequence_dir / "det" / "det.txt", np.column_stack([gt[:, 0], -np.ones(len(gt)), gt[:, 2:6],
                   np.ones(len(gt))]), fmt="%g", delimiter=",")
    return root


def test_synthetic_set_as_davis(synthetic, tmp_path):
    _, table = eval_run(synthetic, "--json", tmp_path / "vos.json")
    assert list(table) == ["synthetic-crossing-1", "synthetic-occlusion-1", "COMBINED"]
    assert set(table["COMBINED"]) == {"J&F", "J", "F"}


def test_synthetic_set_as_mot_prompted_from_det_files(synthetic, tmp_path):
    work = tmp_path / "work"
    _, table = eval_run(synthetic, "--layout", "mot", "--work-dir", work, "--json", tmp_path / "mot.json")
    assert list(table) == ["synthetic-crossing-1", "synthetic-occlusion-1", "COMBINED"]
    assert set(table["COMBINED"]) == {"HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"}
    rows = np.loadtxt(work / "pred" / "synthetic-crossing-1.txt", delimiter=",", ndmin=2)
    assert set(rows[:, 0]) == {1, 2, 3, 4}  # every frame has tracked objects
    assert set(rows[rows[:, 0] == 1, 1]) == {1, 2}  # the two det.txt boxes of frame 1 became objects 1 and 2


@pytest.mark.parametrize("args, message", [
    (["--sequences", "nope"], "no sequence(s) nope"),
    (["--layout", "otb"], "no otb sequences"),
])
def test_bad_input_is_one_line_error(synthetic, args, message):
    result = CliRunner().invoke(main, ["eval", "run", str(synthetic), *args, *FAST])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_mot_without_detector_or_det_file_says_so(tmp_path):
    files = write_scenario(make_scenario("crossing", n_frames=3, size=(160, 120)), tmp_path / "set")
    result = CliRunner().invoke(main, ["eval", "run", str(tmp_path / "set"), "--layout", "mot", *FAST])
    assert result.exit_code == 1
    assert f"{files.sequence_dir.name}: no det/det.txt" in result.output


def test_points_pipeline_runs_its_point_tracker(data_dir, tmp_path, monkeypatch):
    """`-p points-sam2` is built by the same builder as `track`: the point tracker follows each sequence's frames."""
    from autotrack.points import PointTracker

    seen = []
    update = PointTracker.update

    def counting_update(self, frame):
        seen.append((id(self), frame.shape))
        return update(self, frame)

    monkeypatch.setattr(PointTracker, "update", counting_update)
    eval_run(data_dir / "davis2016", "-p", "points-sam2", "--sequences", "dog,libby", "--max-frames", "3",
             "--work-dir", tmp_path / "work", "--json", tmp_path / "vos.json")
    assert len(seen) == 6  # every frame of both sequences
    assert len({tracker for tracker, _ in seen}) == 2  # a fresh point tracker per sequence
