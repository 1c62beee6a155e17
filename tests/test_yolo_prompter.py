"""The YOLO prompter asks ultralytics for half precision on CUDA, and only there."""

from __future__ import annotations

import numpy as np
import pytest

from autotrack.prompters.yolo import YoloPrompter


@pytest.mark.parametrize("device, half", [("cuda:0", True), ("cuda", True), ("cpu", False), ("mps", False)])
def test_half_precision_on_cuda_only(device, half, monkeypatch):
    prompter = YoloPrompter("random", device=device)
    calls = []

    def predict(frame, **options):
        calls.append(options)
        raise StopIteration  # enough: the options are what this test is about

    monkeypatch.setattr(prompter.model, "predict", predict)
    with pytest.raises(StopIteration):
        prompter(np.zeros((64, 64, 3), np.uint8), 0)
    assert calls[0]["half"] is half and calls[0]["device"] == ("0" if device.startswith("cuda") else device)
