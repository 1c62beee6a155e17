"""Full-resolution masks and boxes from SAM2's low-resolution mask logits, computed only where an object can be.

SAM2's masks are bilinear upscalings of low-resolution logits, thresholded at 0 (as ultralytics' SAM predictors
scale them: half-pixel centres, only the part of the grid that shows the frame). A bilinear value is a weighted mean
of four source pixels, so it can only be positive next to a positive source pixel: each object is upscaled inside
the box of its positive source pixels and nowhere else. For a few objects on a 1080p frame that is a small part of
the work of upscaling every mask to the whole frame, with the same result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class _Axis:
    """Bilinear sampling along one axis: output pixel i mixes source pixels low[i] and high[i]."""

    low: np.ndarray  # (n_out,) int64
    high: np.ndarray
    weight: np.ndarray  # (n_out,) float32, of the high source pixel

    @classmethod
    def make(cls, n_out: int, n_in: int, span: float) -> _Axis:
        """`span` source pixels (may be fractional, at most n_in) stretched over `n_out` output pixels."""
        last = min(math.ceil(span), n_in) - 1  # the last source pixel that shows the frame
        scale = np.float32(span / n_out)
        source = np.clip((np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0, last)
        low = source.astype(np.int64)
        return cls(low, np.minimum(low + 1, last), (source - low).astype(np.float32))

    def window(self, first: int, last: int) -> slice:
        """Output pixels that draw on a source pixel in first..last (inclusive)."""
        start = int(np.searchsorted(self.high, first))
        stop = int(np.searchsorted(self.low, last, side="right"))
        return slice(start, stop)


def upscale_masks(
    logits: torch.Tensor, shape: tuple[int, int], content: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Masks and boxes in frame pixels from low-resolution logits.

    logits: (N, h, w) on any device; shape: the frame's (height, width); content: how many rows and columns of the
    low-resolution grid show the frame (the rest is letterbox padding). Returns bool masks (N, height, width) and
    xyxy float32 boxes (N, 4), zeros for an empty mask.
    """
    logits = logits.float().cpu()
    n, h, w = logits.shape
    height, width = shape
    rows, cols = _Axis.make(height, h, content[0]), _Axis.make(width, w, content[1])
    masks = torch.zeros((n, height, width), dtype=torch.bool)
    boxes = np.zeros((n, 4), dtype=np.float32)
    positive = (logits > 0).numpy()
    # the interpolation runs in torch, on all of its threads (numpy would use one), as torch.lerp: a + w (b - a)
    row_low, row_high, row_weight = (torch.from_numpy(a) for a in (rows.low, rows.high, rows.weight))
    col_low, col_high, col_weight = (torch.from_numpy(a) for a in (cols.low, cols.high, cols.weight))
    for k in range(n):
        ys, xs = np.flatnonzero(positive[k].any(1)), np.flatnonzero(positive[k].any(0))
        if len(ys) == 0:
            continue
        y, x = rows.window(ys[0], ys[-1]), cols.window(xs[0], xs[-1])
        # along the width on the source rows needed, then along the height
        first = int(rows.low[y][0])
        source = logits[k, first : int(rows.high[y][-1]) + 1]
        across = torch.lerp(source[:, col_low[x]], source[:, col_high[x]], col_weight[x])
        window = torch.lerp(across[row_low[y] - first], across[row_high[y] - first], row_weight[y, None]) > 0
        masks[k, y, x] = window
        window = window.numpy()  # numpy's any() on booleans is many times faster than torch's
        inside_rows, inside_cols = np.flatnonzero(window.any(1)), np.flatnonzero(window.any(0))
        if len(inside_rows):
            boxes[k] = (x.start + inside_cols[0], y.start + inside_rows[0],
                        x.start + inside_cols[-1] + 1, y.start + inside_rows[-1] + 1)
    return masks.numpy(), boxes
