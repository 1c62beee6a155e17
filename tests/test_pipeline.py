"""End to end through the real engine (random weights) with a stub detector that sees the synthetic ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv
from pycocotools import mask as mask_utils

from autotrack import SAM2Tracker
from autotrack.eval.mot import read_mot_file
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.pipeline import Pipeline
from autotrack.prompters.base import Prompter
from autotrack.sinks import CocoJsonSink, DavisPngSink, MotSink, VideoSink

FRAMES = 16


class NoisyTruthDetector(Prompter):
    """Ground-truth boxes with pixel noise, missing every 4th frame and dropping one object now and then."""

    def __init__(self, scenario) -> None:
        self.scenario = scenario
        self.rng = np.random.default_rng(0)

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        if frame_index % 4 == 3:
            return None
        truth = render_frame(self.scenario, frame_index)[1]
        keep = self.rng.random(len(truth.ids)) > 0.1
        boxes = truth.boxes[keep] + self.rng.normal(0, 1.5, (int(keep.sum()), 4)).astype(np.float32)
        return sv.Detections(xyxy=boxes, confidence=np.full(len(boxes), 0.9, np.float32))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    scenario = make_scenario("mixed", n_frames=FRAMES, size=(160, 120), seed=2)
    return scenario, write_scenario(scenario, tmp_path_factory.mktemp("clip"))


def test_pipeline_writes_every_output(clip, tmp_path):
    scenario, files = clip
    out = tmp_path
    sinks = [
        VideoSink(out / "o.mp4", fps=scenario.fps),
        MotSink(out / "o.txt"),
        CocoJsonSink(out / "o.json"),
        DavisPngSink(out / "masks"),
    ]
    tracker = SAM2Tracker("sam2.1_t", weights="random", imgsz=128, device="cpu")
    pipeline = Pipeline(files.video, NoisyTruthDetector(scenario), tracker, sinks)
    results = list(pipeline.stream())
    summary = pipeline.summary

    assert summary.frames == FRAMES == len(results)
    assert summary.events["born"] >= 2 and summary.objects == summary.events["born"]
    ids_per_frame = [set(r.detections.tracker_id.tolist()) for r in results if r.detections.tracker_id is not None]
    assert ids_per_frame and all(ids <= set(range(1, summary.objects + 1)) for ids in ids_per_frame)

    capture = cv2.VideoCapture(str(out / "o.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES  # every frame, also those without objects
    rows = read_mot_file(out / "o.txt", min_columns=10)  # the evaluation code parses it
    assert len(rows) > 0 and set(rows[:, 1].astype(int)) <= set(range(1, summary.objects + 1))
    coco = json.loads((out / "o.json").read_text())
    assert coco["annotations"]
    for annotation in coco["annotations"]:
        decoded = mask_utils.decode(annotation["segmentation"])
        assert decoded.shape == (scenario.height, scenario.width) and decoded.any()
    assert len(list((out / "masks").glob("*.png"))) == FRAMES


def test_example_script_runs(clip, tmp_path):
    _, files = clip
    script = Path(__file__).resolve().parents[1] / "examples" / "custom_prompter_and_sink.py"
    mot = tmp_path / "custom.txt"
    done = subprocess.run(
        [sys.executable, str(script), str(files.video), "--sam-weights", "random", "--imgsz", "64", "--mot", str(mot)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{FRAMES} frames" in done.stdout
    assert mot.exists()
