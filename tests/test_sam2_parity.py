"""Parity: with fifo memory and Kalman scoring off, our streaming engine is SAM2, and it is EdgeTAM.

Each model runs against an independent implementation of its video inference, on the same frames, with the same
random weights loaded from one file (object-score head biased so masks are not blank) and the same box on frame 0;
the masks must match on each of the first 30 frames.

- SAM2.1-tiny (at 256 px): ultralytics' SAM2VideoPredictor loads the same `sam2.1_t.pt`. The predictor prunes memory older
  than 7 frames, which also drops object pointers that official SAM2 keeps (up to 15 frames back);
  `clear_non_cond_mem = False` turns that pruning off so the reference is the official SAM2 rule, which our engine
  follows.
- EdgeTAM: transformers' EdgeTamVideoModel with its own processor and inference session, streaming frame by frame,
  loads the same transformers checkpoint folder. It is given the frames as the engine gives them to its model
  (letterboxed to a square), and its low-resolution masks are scaled back to the frame as the engine and
  ultralytics' SAM predictors do; so what is compared is the model loop: memory selection, temporal encodings,
  object pointers, the perceiver-compressed memory.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from ultralytics.data.augment import LetterBox
from ultralytics.utils import ops

from autotrack import Prompt, SAM2Tracker
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.models.sam2.build import build_model

IMGSZ = {"sam2.1_t": 256, "edgetam": 256}
FRAMES = 30


def read_frames(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = [capture.read()[1] for _ in range(FRAMES)]
    assert all(frame is not None for frame in frames)
    return frames


def ultralytics_masks(video: Path, box: list[float], weights: Path) -> list[np.ndarray]:
    from ultralytics.models.sam import SAM2VideoPredictor

    overrides = dict(conf=0.0, task="segment", mode="predict", imgsz=IMGSZ["sam2.1_t"], model=str(weights),
                     save=False, verbose=False)
    predictor = SAM2VideoPredictor(overrides=overrides)
    predictor.clear_non_cond_mem = False
    masks = []
    for result in predictor(source=str(video), bboxes=[box], stream=True):
        masks.append(result.masks.data[0].cpu().numpy().astype(bool))
        if len(masks) == FRAMES:
            break
    return masks


def transformers_masks(video: Path, box: list[float], weights: Path) -> list[np.ndarray]:
    from transformers import EdgeTamVideoModel

    from autotrack.models.edgetam.build import edgetam_config

    imgsz = IMGSZ["edgetam"]
    model = EdgeTamVideoModel.from_pretrained(weights, config=edgetam_config(imgsz)).eval()
    processor, session = square_video_session(imgsz)
    masks = []
    for index, frame in enumerate(read_frames(video)):
        gain = imgsz / max(frame.shape[:2])
        if index == 0:
            processor.add_inputs_to_inference_session(
                session, frame_idx=0, obj_ids=1, input_boxes=[[[c * gain for c in box]]], original_size=(imgsz, imgsz)
            )
        masks.append(streamed_masks(model, processor, session, frame, imgsz)[0])
    return masks


def square_video_session(imgsz: int, **stats):
    """transformers' SAM2-video processor for square frames of `imgsz` (`stats`: the image processor's pixel mean
    and std, ImageNet's by default) and a streaming inference session on the CPU in float32."""
    from transformers import Sam2ImageProcessor, Sam2VideoProcessor, Sam2VideoVideoProcessor

    size = {"height": imgsz, "width": imgsz}
    processor = Sam2VideoProcessor(Sam2ImageProcessor(size=size, **stats), Sam2VideoVideoProcessor(size=size),
                                   target_size=imgsz)
    return processor, processor.init_video_session(inference_device="cpu", dtype=torch.float32)


def streamed_masks(model, processor, session, frame: np.ndarray, imgsz: int) -> np.ndarray:
    """One streamed frame through a transformers video model, given letterboxed as the engine gives it to its
    model; each object's low-resolution mask scaled back to the frame as the engine and ultralytics' SAM predictors
    do: (objects, H, W) bool."""
    square = np.ascontiguousarray(LetterBox((imgsz, imgsz), auto=False, center=False)(image=frame)[..., ::-1])
    pixels = processor(images=square, return_tensors="pt").pixel_values[0]
    with torch.inference_mode():
        low_res = model(inference_session=session, frame=pixels).pred_masks  # (objects, 1, h, w) logits
    shape = frame.shape[:2]
    gain = imgsz / max(shape)
    ratio = [round(s * gain) * m / imgsz / s for s, m in zip(shape, low_res.shape[2:])]
    return ops.scale_masks(low_res, shape, (ratio, (0, 0)), padding=False)[:, 0].numpy() > 0


def our_masks(model: str, video: Path, box: list[float], weights: Path) -> list[np.ndarray]:
    tracker = SAM2Tracker(model, weights=str(weights), imgsz=IMGSZ[model], device="cpu", memory="fifo", kalman=False,
                          precision="fp32")
    return [tracker.step(frame, {1: Prompt(box=box)} if index == 0 else None)[1].mask
            for index, frame in enumerate(read_frames(video))]


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    """Random weights of each model, saved where both implementations load them."""
    from autotrack.models.edgetam.build import build_edgetam

    folder = tmp_path_factory.mktemp("weights")
    torch.save(build_model("sam2.1_t", "random").state_dict(), folder / "sam2.1_t.pt")
    build_edgetam("random", IMGSZ["edgetam"]).save_pretrained(folder / "EdgeTAM-hf")
    return folder


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("clip", ["bedroom", "synthetic"])
@pytest.mark.parametrize("model", ["sam2.1_t", "edgetam"])
def test_masks_match_an_independent_implementation(model, clip, data_dir, tmp_path, weights_dir):
    if clip == "bedroom":
        video, box = data_dir / "videos" / "bedroom.mp4", [290.0, 110.0, 480.0, 420.0]
    else:
        scenario = make_scenario("crossing", n_frames=FRAMES + 5, seed=1)
        video = write_scenario(scenario, tmp_path).video
        box = render_frame(scenario, 0)[1].boxes[0].tolist()
    if model == "sam2.1_t":
        weights = weights_dir / "sam2.1_t.pt"
        reference = ultralytics_masks(video, box, weights)
    else:
        weights = weights_dir / "EdgeTAM-hf"
        reference = transformers_masks(video, box, weights)
    ours = our_masks(model, video, box, weights)
    assert len(reference) == len(ours) == FRAMES
    for index, (expected, actual) in enumerate(zip(reference, ours)):
        assert expected.shape == actual.shape
        assert expected.any(), f"frame {index}: reference mask is empty, the comparison would prove nothing"
        assert not expected.all(), f"frame {index}: reference mask is the whole frame"
        assert mask_iou(expected, actual) >= 0.99, f"frame {index}: IoU {mask_iou(expected, actual):.4f}"
