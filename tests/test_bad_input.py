"""Every kind of bad input, as a user gives it on the command line: one line on stderr, a non-zero exit, no model
loaded, nothing written; and the class names users give reach every output."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
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


def given_files(tmp: Path, clip: Path) -> None:
    """What the harmful cases are given, in `tmp`: the clip, a link to it, a folder, a weights file, prompts files."""
    shutil.copy(clip, tmp / "clip.mp4")
    (tmp / "link.mp4").symlink_to(tmp / "clip.mp4")
    (tmp / "a-folder").mkdir()
    (tmp / "w.pt").write_bytes(b"PK\x03\x04 a checkpoint's first bytes")
    box = {"id": 1, "frame": 0, "box": [10, 10, 100, 100]}
    (tmp / "prompts.json").write_text(json.dumps({"objects": [box]}))
    (tmp / "huge.json").write_text('{"objects": [{"id": 1, "box": [0, 0, 1e39, 100]}]}')
    (tmp / "big-id.json").write_text(json.dumps({"objects": [{**box, "id": 2**64 + 1}]}))


WITH_BOX = ["--box", "10,10,100,100"]
# name -> (arguments after `track clip.mp4 --sam-weights random`, run among `given_files`, a part of the expected
# line): outputs on inputs or on each other, numbers out of range, devices that are not here, missing weights
HARMFUL = {
    "output is the input video": ([*WITH_BOX, "--output", "clip.mp4"], "--output clip.mp4 is the input clip.mp4"),
    "json is the prompts file": (["--prompts", "prompts.json", "--json", "prompts.json"],
                                 "--json prompts.json is the prompts file prompts.json"),
    "mot is the weights": ([*WITH_BOX, "--sam-weights", "w.pt", "--mot", "w.pt"], "is the SAM weights w.pt"),
    "two outputs on one path": ([*WITH_BOX, "--mot", "out.txt", "--json", "out.txt"],
                                "--mot out.txt and --json out.txt are one path"),
    "json on the mot class file": ([*WITH_BOX, "--mot", "out.txt", "--json", "out.classes.csv"], "are one path"),
    "outputs differing in case": ([*WITH_BOX, "--mot", "OUT.txt", "--json", "out.txt"], "are one path"),
    "through a symlink": ([*WITH_BOX, "--output", "link.mp4"], "--output link.mp4 is the input clip.mp4"),
    "through a relative path": ([*WITH_BOX, "--output", "a-folder/../clip.mp4"], "is the input clip.mp4"),
    "masks folder holds the input": ([*WITH_BOX, "--masks-dir", "."], "--masks-dir . holds the input clip.mp4"),
    "1e39 in a prompts file": (["--prompts", "huge.json"],
                               "objects[0].box: expected [x1, y1, x2, y2], four finite numbers within float32's range"),
    "1e39 on the command line": (["--box", "0,0,1e39,100"], "within float32's range"),
    "id past 64 bits": (["--prompts", "big-id.json"],
                        f"objects[0].id: an object id is an integer from 1 to {2**31 - 1}"),
    "imgsz far too large": ([*WITH_BOX, "--imgsz", "100000"], "imgsz 100000 needs about"),
    "absent device": ([*WITH_BOX, "--device", "cuda:7"], "device 'cuda:7' is not on this machine; available here"),
    "every missing weights file": (["-p", "yolo-sam2", "--detector", "yolo-nothere.pt", "--sam-weights",
                                    "sam-nothere.pt"], "--sam-weights random --detector random"),
}


def checksums(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links followed) by its relative path, with a checksum of its bytes."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("case", HARMFUL)
def test_nothing_given_is_harmed(clip, tmp_path, case):
    given_files(tmp_path, clip)
    args, expected = HARMFUL[case]
    before = checksums(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUTOTRACK_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", NO_MODELS, "track", "clip.mp4", "--sam-weights", "random", *args],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert expected in lines[0], lines[0]
    assert "a model would load now" not in done.stderr
    assert checksums(tmp_path) == before  # every file byte-identical, none added


def test_a_device_name_torch_or_autotrack_does_not_know_lists_the_devices_here():
    from autotrack.device import DeviceError, resolve_device

    for name in ("nonsense", "xpu", "cuda:x"):
        with pytest.raises(DeviceError, match=f"unknown device '{name}'; available here: auto, cpu"):
            resolve_device(name)
    assert resolve_device("cpu").type == "cpu"
