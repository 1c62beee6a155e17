"""Upscaling only where an object can be gives the masks of upscaling every mask to the whole frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ultralytics.utils import ops

from autotrack.motion import mask_to_box
from autotrack.engine.masks import upscale_masks


@pytest.mark.parametrize("shape, imgsz", [((1080, 1920), 512), ((1920, 1080), 512), ((540, 960), 1024),
                                          ((480, 640), 256), ((333, 517), 512), ((128, 128), 512)])
def test_masks_and_boxes_match_upscaling_the_whole_frame(shape, imgsz):
    size = imgsz // 4  # SAM2's low-resolution masks
    generator = torch.Generator().manual_seed(0)
    logits = F.avg_pool2d(10 * torch.randn(5, 1, size, size, generator=generator), 9, 1, 4)[:, 0] - 0.8
    logits[0] = -5.0  # an empty mask
    logits[1, :, -2:] = 3.0  # touches the letterbox padding: only the part that shows the frame counts
    gain = min(imgsz / s for s in shape)
    ratio = [round(s * gain) * size / imgsz / s for s in shape]  # as ultralytics' SAM predictors scale back
    expected = (ops.scale_masks(logits[None], shape, (ratio, (0, 0)), padding=False)[0] > 0).numpy()

    masks, boxes = upscale_masks(logits, shape, [s * r for s, r in zip(shape, ratio)])

    assert masks.shape == expected.shape and masks.dtype == bool
    assert expected[1:].any(axis=(1, 2)).all() and not masks[0].any()
    # identical; a frame size whose content ends inside a low-resolution pixel may differ in rounding on a pixel
    assert (masks != expected).sum() <= 2
    np.testing.assert_array_equal(boxes, np.array([mask_to_box(mask) for mask in masks]))
