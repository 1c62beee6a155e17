"""Precision: which dtype runs on which device, what the memory keeps, and how close bf16 and fp16 stay to fp32."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from autotrack import Prompt, SAM2Tracker
from autotrack.errors import InputError
from autotrack.engine import precision
from autotrack.engine.precision import resolve_precision

IMGSZ = {"sam2.1_t": 128, "edgetam": 256}
FRAMES = 30
MODELS = ["sam2.1_t", "edgetam"]
SMALLEST = {"sam2.1_t": 64, "edgetam": 256}  # EdgeTAM's perceiver pools memory into a 16x16 grid
BOX = [290.0, 110.0, 480.0, 420.0]  # the person in bedroom.mp4


@pytest.mark.parametrize("avx512_bf16, amx, expected", [(True, False, "bf16"), (False, True, "bf16"),
                                                         (True, True, "bf16"), (False, False, "fp32")])
def test_auto_on_a_cpu_takes_bf16_where_it_is_native(monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert resolve_precision("auto", torch.device("cpu")) == expected


@pytest.mark.parametrize("capability, expected", [((9, 0), "bf16"), ((8, 0), "bf16"), ((7, 5), "fp16")])
def test_auto_on_cuda_takes_bf16_from_ampere_on_and_fp16_before(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert resolve_precision("auto", torch.device("cuda:0")) == expected


def test_auto_on_mps_is_fp32_and_explicit_choices_are_kept(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    for name in ("fp32", "bf16", "fp16"):
        assert resolve_precision(name, torch.device("cpu")) == name
    with pytest.raises(InputError, match="fp64"):
        resolve_precision("fp64", torch.device("cpu"))


@pytest.mark.parametrize("name, features, pointers", [("bf16", torch.bfloat16, torch.bfloat16),
                                                      ("fp16", torch.float16, torch.float16),
                                                      ("fp32", torch.float16, torch.float32)])
@pytest.mark.parametrize("model", MODELS)
def test_memory_is_kept_in_the_compute_dtype_and_outputs_stay_float32(model, name, features, pointers):
    tracker = SAM2Tracker(model, weights="random", imgsz=SMALLEST[model], device="cpu", precision=name)
    assert tracker.precision == name
    frames = np.random.default_rng(0).integers(0, 255, (4, 96, 128, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        states = tracker.step(frame, {1: Prompt(box=[20, 20, 80, 70])} if index == 0 else None)
    memory = tracker.object_memory(1)
    entries = [*memory.conditioning, *memory.recent]
    assert len(entries) == 4
    assert {e.features.dtype for e in entries} == {features}
    assert {e.obj_ptr.dtype for e in entries} == {pointers}
    state = states[1]
    assert state.mask.dtype == bool and state.box.dtype == np.float32
    assert all(type(score) is float for score in (state.affinity, state.occurrence))


def bedroom_masks(data_dir, model: str, name: str) -> list[np.ndarray]:
    tracker = SAM2Tracker(model, weights="random", imgsz=IMGSZ[model], device="cpu", precision=name)
    capture = cv2.VideoCapture(str(data_dir / "videos" / "bedroom.mp4"))
    masks = []
    for index in range(FRAMES):
        ok, frame = capture.read()
        assert ok
        masks.append(tracker.step(frame, {1: Prompt(box=BOX)} if index == 0 else None)[1].mask)
    return masks


@pytest.fixture(scope="module", params=MODELS)
def fp32_masks(request, data_dir) -> tuple[str, list[np.ndarray]]:
    return request.param, bedroom_masks(data_dir, request.param, "fp32")


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_reduced_precision_masks_stay_close_to_fp32(data_dir, fp32_masks, name):
    """Same clip, prompt and random weights: per-frame mask IoU against fp32 at least 0.9 on each of 30 frames.

    Both run on this CPU: torch autocasts to bf16 and fp16 on any CPU (fp16 slowly where it is not native).
    """
    model, reference_masks = fp32_masks
    masks = bedroom_masks(data_dir, model, name)
    ious = [float((a & b).sum() / max((a | b).sum(), 1)) for a, b in zip(reference_masks, masks)]
    print(f"{model} {name} vs fp32, mask IoU per frame: " + " ".join(f"{iou:.3f}" for iou in ious))
    for index, (reference, mask, iou) in enumerate(zip(reference_masks, masks, ious)):
        assert reference.any() and mask.any(), f"frame {index}: an empty mask would prove nothing"
        assert iou >= 0.9, f"frame {index}: {name} vs fp32 mask IoU {iou:.3f}"
