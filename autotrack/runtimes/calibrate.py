"""Calibration for int8 graphs: a clip's first frames with prompts on its first frame; the inputs each stage receives
while the exported stages track it in PyTorch (float32), which is what the quantizer calibrates on and the
reference the int8 graphs are held to; and the agreement of two runs' masks, frame by frame."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from autotrack.engine.engine import EngineModel
from autotrack.errors import InputError
from autotrack.runtimes.graphs import Graphs
from autotrack.runtimes.stages import StageSpec
from autotrack.sources.factory import open_source
from autotrack.types import Prompt

CALIBRATION_FRAMES = 30  # enough for the memory to fill (7 frames) and the objects to move; a few seconds of export


@dataclass
class Calibration:
    """The frames (HxWx3 BGR uint8) the stages are calibrated on, and the prompts on the first, by object id."""

    frames: list[np.ndarray]
    prompts: dict[int, Prompt]


def read_calibration(video: str, frames: int, prompts: dict[int, Prompt]) -> Calibration:
    """The first `frames` frames of `video` (a file, image folder or glob) with `prompts` on the first; without
    prompts, one centred box of half the frame's width and height, where a framed subject usually is."""
    with open_source(video) as source:
        images = [frame.image for frame in itertools.islice(source, frames)]
    if not images:
        raise InputError(f"{video}: no frames to calibrate on")
    height, width = images[0].shape[:2]
    if not prompts:
        prompts = {1: Prompt(box=np.array([width / 4, height / 4, 3 * width / 4, 3 * height / 4]))}
    for obj_id, prompt in prompts.items():
        prompt.check_frame(width, height, f"object {obj_id}")
    return Calibration(images, prompts)


class TorchStages(Graphs):
    """The stages' torch modules (float32, on the CPU) in the place of compiled graphs, keeping every input each is
    given: run by the engine, they are the fp32 reference of an export and record its calibration data."""

    def __init__(self, specs: dict[str, StageSpec]) -> None:
        self.modules = {stage: spec.module for stage, spec in specs.items()}
        self.inputs: dict[str, list[tuple[np.ndarray, ...]]] = defaultdict(list)

    def run(self, stage: str, *inputs: np.ndarray) -> list[np.ndarray]:
        self.inputs[stage].append(tuple(np.array(array) for array in inputs))
        with torch.inference_mode():
            outputs = self.modules[stage](*map(torch.from_numpy, inputs))
        return [output.numpy() for output in (outputs if isinstance(outputs, tuple) else (outputs,))]


def track_masks(engine: EngineModel, calibration: Calibration) -> list[dict[int, np.ndarray]]:
    """Each frame's masks by object id as `engine` tracks the calibration clip from its prompts."""
    session = engine.session()
    return [{obj_id: state.mask for obj_id, state in session.step(frame, calibration.prompts if index == 0 else None)
             .items()} for index, frame in enumerate(calibration.frames)]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks; 1 when both are empty."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def agreement(expected: list[dict[int, np.ndarray]], actual: list[dict[int, np.ndarray]]) -> dict[str, object]:
    """How far `actual`'s masks agree with `expected`'s: per frame the mean IoU over the expected objects (a missing
    one counts as empty), and their minimum and mean over the frames."""
    per_frame = [float(np.mean([mask_iou(mask, got.get(obj_id, np.zeros_like(mask))) for obj_id, mask in want.items()]))
                 for want, got in zip(expected, actual)]
    return {"frames": len(per_frame), "iou_min": round(min(per_frame), 4),
            "iou_mean": round(float(np.mean(per_frame)), 4), "iou": [round(iou, 4) for iou in per_frame]}
