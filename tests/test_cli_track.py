"""`autotrack track` as a new user runs it: the documented command works; bad input is one line and exit code 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario

REPO = Path(__file__).resolve().parents[1]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_documented_command_on_a_real_video(data_dir, tmp_path):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"objects": [
        {"id": 1, "frame": 0, "box": [290, 110, 480, 420]},
        {"id": 2, "frame": 2, "points": [[700, 300]], "labels": [1], "class": "child"},
    ]}))
    out, mot = tmp_path / "o.mp4", tmp_path / "o.txt"
    result = run("track", str(data_dir / "videos" / "bedroom.mp4"), "--sam-weights", "random", "--imgsz", "64",
                 "--prompts", str(prompts), "--output", str(out), "--mot", str(mot), "--max-frames", "5")
    assert result.exit_code == 0, result.output
    assert "frames  5" in result.output and "born  2" in result.output
    assert "edge-cpu" not in result.stderr  # SAM2 at 64 px is not slow: no advice
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    ids = {int(line.split(",")[1]) for line in mot.read_text().splitlines()}
    assert ids <= {1, 2} and 1 in ids


def test_edge_cpu_pipeline_runs_edgetam_with_a_detector(data_dir, tmp_path):
    """The ready `edge-cpu` pipeline: EdgeTAM in the device's precision and a detector every third frame."""
    from autotrack.config import load_config

    config = load_config("edge-cpu")
    assert (config.sam.model, config.sam.precision, config.detector.every) == ("edgetam", "auto", 3)
    mot = tmp_path / "o.txt"
    result = run("track", str(data_dir / "videos" / "bedroom.mp4"), "-p", "edge-cpu", "--detector", "random",
                 "--sam-weights", "random", "--imgsz", "256", "--box", "290,110,480,420", "--mot", str(mot),
                 "--max-frames", "3")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[:2] for line in mot.read_text().splitlines()] == [["1", "1"], ["2", "1"], ["3", "1"]]


def bad_prompts(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"objects": [{"id": 1, "frame": 0, "box": [10, 10, 5]}]}')
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing file", "no such video file"),
        ("folder without images", "no images"),
        ("malformed prompts", "objects[0]"),
        ("unknown pipeline", "unknown pipeline"),
        ("unknown class", "unknown class 'unicorn'"),
        ("bad override", "unknown key"),
        ("EdgeTAM input size", "multiple of 256"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(case, expected, tmp_path, data_dir):
    video = str(data_dir / "videos" / "bedroom.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = {
        "missing file": ["track", str(tmp_path / "nope.mp4"), "--sam-weights", "random"],
        "folder without images": ["track", str(empty), "--sam-weights", "random"],
        "malformed prompts": ["track", video, "--sam-weights", "random", "--prompts", str(bad_prompts(tmp_path))],
        "unknown pipeline": ["track", video, "-p", "does-not-exist"],
        "unknown class": ["track", video, "--detector", "random", "--classes", "person,unicorn",
                          "--sam-weights", "random", "--imgsz", "64"],
        "bad override": ["track", video, "--sam-weights", "random", "--set", "sam.imgsze=64"],
        "EdgeTAM input size": ["track", video, "--sam", "edgetam", "--sam-weights", "random", "--imgsz", "320",
                               "--box", "290,110,480,420"],
    }[case]
    result = run(*args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert expected in lines[0]


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("track", "eval", "pipelines", "weights"):
        assert command in result.output


@pytest.mark.parametrize(
    "options, expected",
    [
        (["--text", " , "], "no class names in the text prompt"),
        (["--like", "900,100,1000,200"], "lies outside the"),
        (["--like", "100,100,100,200@3"], "needs x2 > x1 and y2 > y1"),
        (["--box", "100,100,200,200", "--dataset", "{tmp}/keep.txt/dataset"], "cannot be created"),
        (["--box", "100,100,200,200", "--dataset", "{tmp}/full"], "not an empty folder"),
        (["--box", "100,100,200,200", "--dataset", "{tmp}/d", "--dataset-format", "voc"], "must be one of yolo, coco"),
        (["--box", "100,100,200,200", "--dataset", "{tmp}/d", "--dataset-every", "0"], "at least 1"),
    ],
)
def test_bad_open_vocabulary_and_dataset_input_is_one_line_and_loses_nothing(options, expected, tmp_path, data_dir):
    keep = tmp_path / "keep.txt"
    keep.write_text("1,1,10,10,20,20,0.9,-1,-1,-1\n")  # an earlier run's output, passed as --mot again
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "labels.txt").write_text("a file of the user's\n")
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    result = run("track", str(data_dir / "videos" / "bedroom.mp4"), *options, "--mot", str(keep),
                 "--sam-weights", "random", "--imgsz", "64", "--max-frames", "2")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and expected in lines[0], result.output
    assert keep.read_text() == "1,1,10,10,20,20,0.9,-1,-1,-1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "keep.txt"]
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["labels.txt"]


def test_dataset_option_writes_a_loadable_dataset(tmp_path, data_dir):
    import supervision as sv

    result = run("track", str(data_dir / "videos" / "bedroom.mp4"), "--box", "290,110,480,420", "--sam-weights",
                 "random", "--imgsz", "64", "--max-frames", "4", "--dataset", str(tmp_path / "d"),
                 "--dataset-format", "coco", "--dataset-every", "2")
    assert result.exit_code == 0, result.output
    dataset = sv.DetectionDataset.from_coco(str(tmp_path / "d" / "images"), str(tmp_path / "d" / "annotations.json"))
    assert len(dataset) == 2 and dataset.classes == ["object"]


def images_written(path: Path) -> int:
    """Frames in a COCO JSON file being written (0 before it is there, or while a frame is being added)."""
    try:
        return len(json.loads(path.read_text())["images"])
    except (OSError, ValueError):
        return 0


def test_sigint_stops_a_background_run_with_complete_outputs(tmp_path):
    """A shell starts a background job with SIGINT ignored, and Python then leaves it ignored: track handles it."""
    clip = write_scenario(make_scenario("crossing", n_frames=400, size=(160, 120), seed=0), tmp_path / "clip").video
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "autotrack.cli", "track", str(clip), "--box", "10,10,70,70", "--sam-weights",
               "random", "--imgsz", "64", "--device", "cpu", "--mot", "out.txt", "--json", "out.json"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        while images_written(tmp_path / "out.json") < 3:
            assert time.monotonic() < deadline and process.poll() is None, "the run did not get going"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and "stopped by Ctrl-C" in stderr, stderr
    frames = int(next(line.split()[-1] for line in stdout.splitlines() if line.strip().startswith("frames")))
    assert 3 <= frames < 400
    assert len(json.loads((tmp_path / "out.json").read_text())["images"]) == frames  # complete up to the stop
    rows = [line.split(",") for line in (tmp_path / "out.txt").read_text().splitlines()]
    assert rows and all(len(row) == 10 for row in rows) and int(rows[-1][0]) <= frames


def test_pipelines_lists_each_whole_description():
    listing = run("pipelines").output
    edge = next(line for line in listing.splitlines() if line.startswith("edge-cpu"))
    assert edge.endswith("and a small detector on every third frame.")
