"""The YOLO prompter asks ultralytics for half precision on CUDA, and only there, with `quantize` (its `half` is
deprecated and warns on every call)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autotrack.prompters.yolo import YoloPrompter


@pytest.mark.parametrize("device, quantize", [("cuda:0", 16), ("cuda", 16), ("cpu", None), ("mps", None)])
def test_half_precision_on_cuda_only(device, quantize, monkeypatch):
    # devices are checked to be here before a model loads: this machine pretends to have a GPU and an MPS device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    prompter = YoloPrompter("random", device=device)
    calls = []

    def predict(frame, **options):
        calls.append(options)
        raise StopIteration  # enough: the options are what this test is about

    monkeypatch.setattr(prompter.model, "predict", predict)
    with pytest.raises(StopIteration):
        prompter(np.zeros((64, 64, 3), np.uint8), 0)
    assert "half" not in calls[0] and calls[0]["quantize"] == quantize
    assert calls[0]["device"] == ("0" if device.startswith("cuda") else device)
