"""Parity: with fifo memory and Kalman scoring off, our streaming engine is SAM2.

ultralytics' SAM2VideoPredictor and our SAM2Tracker load the same random weights (object-score head biased so masks
are not blank) from one `sam2.1_t.pt` file, take the same box on frame 0, and must give the same masks on each of
the first 30 frames. The predictor prunes memory older than 7 frames, which also drops object pointers that
official SAM2 keeps (up to 15 frames back); `clear_non_cond_mem = False` turns that pruning off so the reference is
the official SAM2 rule, which our engine follows.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from autotrack import Prompt, SAM2Tracker
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.sam2.build import build_model

IMGSZ = 512
FRAMES = 30


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "sam2.1_t.pt"
    torch.save(build_model("sam2.1_t", "random").state_dict(), path)
    return path


def ultralytics_masks(video: Path, box: list[float], weights: Path) -> list[np.ndarray]:
    from ultralytics.models.sam import SAM2VideoPredictor

    overrides = dict(conf=0.0, task="segment", mode="predict", imgsz=IMGSZ, model=str(weights), save=False, verbose=False)
    predictor = SAM2VideoPredictor(overrides=overrides)
    predictor.clear_non_cond_mem = False
    masks = []
    for result in predictor(source=str(video), bboxes=[box], stream=True):
        masks.append(result.masks.data[0].cpu().numpy().astype(bool))
        if len(masks) == FRAMES:
            break
    return masks


def our_masks(video: Path, box: list[float], weights: Path) -> list[np.ndarray]:
    tracker = SAM2Tracker("sam2.1_t", weights=str(weights), imgsz=IMGSZ, device="cpu", memory="fifo", kalman=False,
                          precision="fp32")
    capture = cv2.VideoCapture(str(video))
    masks = []
    for index in range(FRAMES):
        ok, frame = capture.read()
        assert ok
        states = tracker.step(frame, {1: Prompt(box=box)} if index == 0 else None)
        masks.append(states[1].mask)
    return masks


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("clip", ["bedroom", "synthetic"])
def test_masks_match_ultralytics_video_predictor(clip, data_dir, tmp_path, weights_file):
    if clip == "bedroom":
        video, box = data_dir / "videos" / "bedroom.mp4", [290.0, 110.0, 480.0, 420.0]
    else:
        scenario = make_scenario("crossing", n_frames=FRAMES + 5, seed=1)
        video = write_scenario(scenario, tmp_path).video
        box = render_frame(scenario, 0)[1].boxes[0].tolist()
    reference = ultralytics_masks(video, box, weights_file)
    ours = our_masks(video, box, weights_file)
    assert len(reference) == len(ours) == FRAMES
    for index, (expected, actual) in enumerate(zip(reference, ours)):
        assert expected.shape == actual.shape
        assert expected.any(), f"frame {index}: reference mask is empty, the comparison would prove nothing"
        assert mask_iou(expected, actual) >= 0.99, f"frame {index}: IoU {mask_iou(expected, actual):.4f}"
