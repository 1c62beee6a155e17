"""Every kind of bad input, as a user gives it on the command line: one line on stderr, a non-zero exit, no model
loaded, nothing written; and the class names users give reach every output."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario

REPO = Path(__file__).resolve().parents[1]
# The command line with model building replaced by a failure: a case that reaches it loaded a model too late.
NO_MODELS = ("import sys, autotrack.pipeline.build as b\n"
             "def load_models(config): sys.exit('a model would load now')\n"
             "b.load_models = load_models\n"
             "from autotrack.cli import main\n"
             "main(prog_name='autotrack')")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 10-frame 320x240 video."""
    folder = tmp_path_factory.mktemp("clip")
    return write_scenario(make_scenario("crossing", n_frames=10, size=(320, 240), seed=0), folder).video


def prompts_file(folder: Path, objects) -> str:
    path = folder / "prompts.json"
    path.write_text(objects if isinstance(objects, str) else json.dumps({"objects": objects}))
    return str(path)


def cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments after `track CLIP -p manual-sam2`, a part of the expected line)."""
    (tmp / "a-folder").mkdir()
    (tmp / "weights.txt").write_text("not a checkpoint\n")
    box = {"id": 1, "frame": 0, "box": [10, 10, 100, 100]}
    return {
        "imgsz 0": (["--box", "10,10,100,100", "--imgsz", "0"], "imgsz"),
        "imgsz -32": (["--box", "10,10,100,100", "--imgsz", "-32"], "imgsz"),
        "mot is a folder": (["--box", "10,10,100,100", "--mot", str(tmp / "a-folder")], "is a folder"),
        "mot unwritable": (["--box", "10,10,100,100", "--mot", "/proc/autotrack-out.txt"],
                           "cannot write /proc/autotrack-out.txt"),
        "video suffix": (["--box", "10,10,100,100", "--output", str(tmp / "out.txt")], "use a .mp4, .m4v"),
        "json unwritable": (["--box", "10,10,100,100", "--json", "/proc/autotrack-out.json"], "cannot write"),
        "masks unwritable": (["--box", "10,10,100,100", "--masks-dir", "/proc/autotrack-masks"], "cannot write"),
        "box outside": (["--box", "400,300,500,400"], "lies outside the 320x240 frame"),
        "same id twice": (["--prompts", prompts_file(tmp / "twice", [box, box])],
                          "objects[1]: object 1 is already prompted on frame 0 by"),
        "frame beyond end": (["--prompts", prompts_file(tmp / "late", [{**box, "frame": 10}])],
                             "objects[0]: frame 10 is beyond the end of the input (10 frames"),
        "label 5": (["--points", "100,100,5"], "each label is 1 (on the object) or 0 (not)"),
        "point outside": (["--points", "100,100;330,100"], "point [330, 100] lies outside the 320x240 frame"),
        "max-frames -1": (["--box", "10,10,100,100", "--max-frames", "-1"], "--max-frames must be at least 1"),
        "max-frames 0": (["--box", "10,10,100,100", "--max-frames", "0"], "--max-frames must be at least 1, got 0"),
        "nan box": (["--prompts", prompts_file(tmp / "nan", '{"objects": [{"id": 1, "box": [1, 2, NaN, 9]}]}')],
                    "objects[0].box: expected [x1, y1, x2, y2], four finite numbers"),
        "3-number box": (["--prompts", prompts_file(tmp / "three", [{"id": 1, "box": [1, 2, 3]}])],
                         "objects[0].box: expected [x1, y1, x2, y2]"),
        "zero-area box": (["--box", "10,10,10,50"], "needs x2 > x1 and y2 > y1"),
        "set imgsz abc": (["--box", "10,10,100,100", "--set", "sam.imgsz=abc"],
                          "--set sam.imgsz=abc: sam: imgsz must be int, got 'abc'"),
        "text weights": (["--box", "10,10,100,100", "--sam-weights", str(tmp / "weights.txt")],
                         "weights.txt is not a PyTorch checkpoint"),
        "missing detector": (["-p", "yolo-sam2", "--detector", "yolo-nothere.pt"],
                             "Put yolo-nothere.pt in one of:"),
        "class without prompts": (["-p", "yolo-sam2", "--detector", "random", "--class", "cup"],
                                  "--class names the --box/--points objects"),
        "unknown pipeline": (["-p", "nonesuch", "--box", "10,10,100,100"], "unknown pipeline 'nonesuch'"),
    }


def test_every_bad_input_is_one_line_before_any_model_loads(clip, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOTRACK_OFFLINE": "1"}
    for folder in ("twice", "late", "nan", "three"):
        (tmp_path / folder).mkdir()
    table = cases(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    for name, (args, expected) in table.items():
        command = [sys.executable, "-c", NO_MODELS, "track", str(clip), "-p", "manual-sam2", "--sam-weights",
                   "random", *args]
        if "-p" in args:  # the case names its own pipeline
            command.remove("manual-sam2"), command.remove("-p")
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, (name, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("Error: "), (name, done.stderr)
        assert expected in lines[0], (name, lines[0])
        assert "a model would load now" not in done.stderr and "Traceback" not in done.stderr, name
    assert sorted(tmp_path.rglob("*")) == before  # no case left an output behind
    assert not Path("/proc/autotrack-out.txt").exists()


def test_class_names_from_a_prompts_file_reach_every_output(clip, tmp_path):
    objects = [{"id": 1, "frame": 0, "box": [10, 10, 120, 120], "class": "person"},
               {"id": 2, "frame": 0, "box": [180, 100, 300, 230], "class": "cup"}]
    args = ["track", str(clip), "--prompts", prompts_file(tmp_path, objects), "--sam-weights", "random",
            "--imgsz", "64", "--max-frames", "3", "--set", "identity.overlap_iou=1.0",  # random masks overlap
            "--mot", str(tmp_path / "out.txt"), "--json", str(tmp_path / "out.json"),
            "--masks-dir", str(tmp_path / "masks")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output

    coco = json.loads((tmp_path / "out.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(names.values()) == ["cup", "person"] and len(set(names)) == 2
    by_track = {a["track_id"]: names[a["category_id"]] for a in coco["annotations"]}
    assert by_track == {1: "person", 2: "cup"}

    with open(tmp_path / "out.classes.csv", newline="") as f:
        assert {int(row["id"]): row["class"] for row in csv.DictReader(f)} == {1: "person", 2: "cup"}
    assert {int(row.split(",")[1]) for row in (tmp_path / "out.txt").read_text().splitlines()} == {1, 2}

    objects_json = json.loads((tmp_path / "masks" / "objects.json").read_text())
    assert {entry["id"]: entry["class"] for entry in objects_json.values()} == {1: "person", 2: "cup"}


def test_video_labels_name_each_object_by_its_class(clip):
    from autotrack.pipeline import load_pipeline
    from autotrack.prompters.manual import ManualPrompts
    from autotrack.sinks.annotate import object_labels

    prompts = ManualPrompts.from_options(["10,10,120,120", "180,100,300,230"], classes=["person", "cup"])
    pipeline = load_pipeline("manual-sam2", str(clip), prompts=prompts, max_frames=2,
                             overrides={"sam.weights": "random", "sam.imgsz": 64, "identity.overlap_iou": 1.0})
    labels = [object_labels(result.detections) for result in pipeline.stream()]
    assert labels == [["#1 person", "#2 cup"]] * 2


def test_a_random_detector_says_why_nothing_was_found(clip, tmp_path):
    result = CliRunner().invoke(main, ["track", str(clip), "--detector", "random", "--sam-weights", "random",
                                       "--imgsz", "64", "--max-frames", "2", "--mot", str(tmp_path / "o.txt")])
    assert result.exit_code == 0, result.output
    assert "random weights (--detector random) finds nothing" in result.output


def test_a_reconnection_is_an_event_of_the_next_frame():
    from fakes import FunctionPrompter, ScriptedEngine

    from autotrack.pipeline import Pipeline
    from autotrack.sources import ArraySource

    source = ArraySource([np.zeros((48, 64, 3), np.uint8)] * 5)

    def prompter(frame, index):
        if index == 2:  # the stream came back while frame 2 was being processed
            source.stats.reconnects, source.stats.outage = 1, 2.5
        return None

    results = list(Pipeline(source, FunctionPrompter(prompter), ScriptedEngine({})).stream())
    events = [[(e.kind, e.tracker_id, e.reason) for e in r.events] for r in results]
    assert events == [[], [], [], [("reconnected", None, "reconnected after 2.5 s")], []]
