"""Runtimes: the engine with its heavy stages on exported graphs (ONNX Runtime, OpenVINO, fp32) follows objects as
the torch engine does, frame by frame on a real clip, with objects joining and leaving (the graphs' dynamic axes for
objects, memory frames and pointers), for SAM2.1-tiny and EdgeTAM.

Each model is exported once per module at its smallest input size, to ONNX (ONNX Runtime runs that folder) and
converted to OpenVINO's format, and tracked on 30 frames. EdgeTAM is also exported at its native 1024 px, where its
perceiver pools windows of 4x4 memory cells (at 256 px a window is one cell), and tracked on 8 frames: a frame there
costs as much as 16 at 256 px, and 8 frames already run every graph with every dynamic axis changing (objects 2,
3, then 2 again; memory frames 1 to 7; pointer tokens growing).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from autotrack import Prompt
from autotrack.engine.image import letterbox
from autotrack.models import load_engine
from autotrack.models.common import IMAGENET_MEAN, IMAGENET_STD
from autotrack.models.edgetam.build import build_edgetam
from autotrack.models.sam2.build import build_model
from autotrack.runtimes.export import convert_export, export_stages
from autotrack.runtimes.load import load_exported
from random_weights import calibrate_batch_norms, make_nonzero

pytestmark = pytest.mark.timeout(2400)  # exporting three models takes minutes on a small CPU
CLIP = "videos/bedroom.mp4"  # two children jumping on a bed
BOXES = {1: [160.0, 130.0, 280.0, 400.0], 2: [290.0, 110.0, 480.0, 420.0], 3: [530.0, 290.0, 680.0, 410.0]}  # boy,
# girl, a pillow
FRAMES = {256: 30, 1024: 8}  # frames tracked at each input size
MODELS = [("sam2.1_t", 256), ("edgetam", 256), ("edgetam", 1024)]  # (model, input size)
CALIBRATION_FRAMES = 8


def join_and_leave(frames: int) -> tuple[int, int]:
    """The frame on which object 3 is prompted, and the one before which object 2 is removed."""
    return frames // 3, 2 * frames // 3


def engine_images(frames: list[np.ndarray], imgsz: int) -> torch.Tensor:
    """Frames as the engine gives them to the image encoder: letterboxed, RGB, normalised (B, 3, imgsz, imgsz)."""
    images = np.stack([letterbox(frame, imgsz)[..., ::-1].transpose(2, 0, 1) for frame in frames])
    images = torch.from_numpy(np.ascontiguousarray(images)).float()
    return (images - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]


def random_weights(model: str, imgsz: int, frames: list[np.ndarray], folder: Path) -> Path:
    """A weights file of `model` with random weights, none constant, batch norms calibrated on `frames`."""
    network = build_edgetam("random", imgsz) if model == "edgetam" else build_model(model, "random")
    make_nonzero(network)
    if model == "edgetam":  # SAM2 has no batch norms
        calibrate_batch_norms(network.vision_encoder.backbone, engine_images(frames, imgsz))
    path = folder / f"{model}.pt"
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def clip(data_dir) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(data_dir / CLIP))
    frames = [capture.read()[1] for _ in range(max(FRAMES.values()))]
    capture.release()
    assert all(frame is not None for frame in frames)
    return frames


@dataclass
class Exported:
    """A model at an input size: the torch engine's masks per frame, and its weights exported for each runtime."""

    model: str
    imgsz: int
    expected: list[dict[int, np.ndarray]]
    folders: dict[str, Path]


@pytest.fixture(scope="module", params=MODELS, ids=[f"{model}-{imgsz}" for model, imgsz in MODELS])
def exported(request, clip, tmp_path_factory) -> Exported:
    """(model, imgsz) in fp32 with weights as `random_weights` makes them: the torch engine's masks, and the model
    exported to ONNX (ONNX Runtime's folder) and converted to OpenVINO's format."""
    model, imgsz = request.param
    folder = tmp_path_factory.mktemp(f"{model}-{imgsz}")
    frames = clip[: FRAMES[imgsz]]
    calibration = clip[:: len(clip) // CALIBRATION_FRAMES][:CALIBRATION_FRAMES]
    torch_engine = load_engine(model, random_weights(model, imgsz, calibration, folder), imgsz, "cpu", "fp32")
    expected = track(torch_engine, frames)
    export_stages(torch_engine.parts, torch_engine.family.name, model, imgsz, "onnx", "fp32", folder / "onnx")
    shutil.copytree(folder / "onnx", folder / "openvino")
    convert_export(folder / "openvino", "openvino")
    return Exported(model, imgsz, expected, {"onnxruntime": folder / "onnx", "openvino": folder / "openvino"})


def track(engine, frames: list[np.ndarray]) -> list[dict[int, np.ndarray]]:
    """Masks per frame of three objects: two prompted on frame 0, one joining later, one removed later."""
    join, leave = join_and_leave(len(frames))
    session = engine.session(memory="fifo", kalman=True)
    masks = []
    for index, frame in enumerate(frames):
        prompts = {}
        if index == 0:
            prompts = {1: Prompt(box=BOXES[1]), 2: Prompt(box=BOXES[2])}
        elif index == join:
            prompts = {3: Prompt(box=BOXES[3])}
        if index == leave:
            session.remove(2)
        masks.append({obj_id: state.mask for obj_id, state in session.step(frame, prompts).items()})
    return masks


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_graph_runtime_masks_match_torch_frame_by_frame(exported, runtime, clip):
    frames = clip[: len(exported.expected)]
    engine = load_exported(runtime, exported.model, exported.folders[runtime], exported.imgsz, "cpu", "fp32")
    actual = track(engine, frames)
    join, leave = join_and_leave(len(frames))
    for index, (want, got) in enumerate(zip(exported.expected, actual)):
        objects = [1] + ([2] if index < leave else []) + ([3] if index >= join else [])
        assert sorted(got) == sorted(want) == objects
        for obj_id, mask in want.items():
            assert mask.any(), f"frame {index}, object {obj_id}: empty mask"
            iou = (mask & got[obj_id]).sum() / (mask | got[obj_id]).sum()
            assert iou >= 0.99, f"frame {index}, object {obj_id}: IoU {iou:.4f}"
