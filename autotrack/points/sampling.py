"""Where to put query points: positives inside an object's mask or box, negatives on nearby other objects.

Points are (x, y) float32 pixel coordinates. Sampling is deterministic: trackable corners first
(`cv2.goodFeaturesToTrack`, when a frame is given), then points spread evenly over the rest of the region.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def to_gray(frame: np.ndarray) -> np.ndarray:
    """An HxW uint8 image from an HxW or HxWx3 (BGR) uint8 frame; a clear error for anything else."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"expected an HxW or HxWx3 uint8 frame, got shape {frame.shape} and dtype {frame.dtype}")
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def union_of(masks: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The HxW bool union of masks (all False when there are none)."""
    union = np.zeros(shape[:2], dtype=bool)
    for mask in masks:
        union |= np.asarray(mask, dtype=bool)
    return union


def farthest_points(candidates: np.ndarray, k: int, chosen: np.ndarray | None = None) -> np.ndarray:
    """Pick `k` of `candidates` (Mx2) one by one, each the farthest from all points picked so far and `chosen`.

    Without `chosen`, the first pick is the candidate nearest the centroid, so the result does not depend on order.
    """
    candidates = np.asarray(candidates, dtype=np.float32).reshape(-1, 2)
    k = min(k, len(candidates))
    if k <= 0:
        return np.zeros((0, 2), dtype=np.float32)
    if chosen is not None and len(chosen):
        nearest = np.min(np.linalg.norm(candidates[:, None] - chosen[None], axis=2), axis=1)
        first = int(np.argmax(nearest))
    else:
        nearest = np.full(len(candidates), np.inf, dtype=np.float32)
        first = int(np.argmin(np.linalg.norm(candidates - candidates.mean(axis=0), axis=1)))
    picked = [first]
    nearest = np.minimum(nearest, np.linalg.norm(candidates - candidates[first], axis=1))
    for _ in range(k - 1):
        picked.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.linalg.norm(candidates - candidates[picked[-1]], axis=1))
    return candidates[picked]


def sample_points_in_mask(
    mask: np.ndarray,
    n: int,
    frame: np.ndarray | None = None,
    margin: float = 10.0,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Up to `n` points inside a bool mask, at least `margin` px from its border where the mask is thick enough.

    With a frame, trackable corners come first; the rest are spread evenly. Points closer than the spacing to
    `exclude` (Kx2 points already there) are left out, so re-seeding tops up around surviving points.
    """
    mask = np.asarray(mask, dtype=bool)
    if n <= 0 or not mask.any():
        return np.zeros((0, 2), dtype=np.float32)
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    region = mask & (depth >= min(margin, 0.5 * float(depth.max())))
    spacing = max(2.0, 0.5 * np.sqrt(region.sum() / n))
    exclude = np.zeros((0, 2), np.float32) if exclude is None else np.asarray(exclude, np.float32).reshape(-1, 2)
    allowed = region.astype(np.uint8)
    for x, y in exclude:
        cv2.circle(allowed, (int(round(x)), int(round(y))), int(round(spacing)), 0, -1)
    if not allowed.any():
        return np.zeros((0, 2), dtype=np.float32)

    picked = np.zeros((0, 2), dtype=np.float32)
    if frame is not None:
        corners = cv2.goodFeaturesToTrack(to_gray(frame), n, 0.01, spacing, mask=allowed)
        if corners is not None:
            picked = corners.reshape(-1, 2).astype(np.float32)
    if len(picked) < n:
        step = max(1, int(np.sqrt(allowed.sum() / (4 * n))))
        ys, xs = np.nonzero(allowed[::step, ::step])
        grid = np.stack([xs * step, ys * step], axis=1).astype(np.float32)
        spread = farthest_points(grid, n - len(picked), np.concatenate([picked, exclude]))
        picked = np.concatenate([picked, spread])
    return picked


def box_core(box: np.ndarray, shape: tuple[int, int], fraction: float = 0.5) -> np.ndarray:
    """Bool HxW mask of the central `fraction` (per side) of an xyxy box: where a boxed object most likely is."""
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float32).reshape(4)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * fraction / 2, (y1 - y0) * fraction / 2
    core = np.zeros(shape[:2], dtype=bool)
    core[max(0, int(np.floor(cy - hh))): max(0, int(np.ceil(cy + hh))),
         max(0, int(np.floor(cx - hw))): max(0, int(np.ceil(cx + hw)))] = True
    return core


def sample_points_in_box(
    box: np.ndarray, n: int, shape: tuple[int, int], frame: np.ndarray | None = None, avoid: np.ndarray | None = None
) -> np.ndarray:
    """Up to `n` points in the central half of an xyxy box, off `avoid` (a bool mask of other objects)."""
    core = box_core(box, shape)
    if avoid is not None:
        core &= ~avoid
    return sample_points_in_mask(core, n, frame, margin=0.0)


def sample_negatives(
    box: np.ndarray,
    others: Sequence[np.ndarray],
    n: int,
    frame: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    reach: float = 0.5,
) -> np.ndarray:
    """Up to `n` negative points on other objects' masks near an object.

    "Near" is the object's xyxy box grown by `reach` times its size on each side; `exclude` (the object's own
    mask, when known) keeps negatives off the object itself.
    """
    if n <= 0 or not len(others):
        return np.zeros((0, 2), dtype=np.float32)
    region = union_of(others, np.shape(others[0]))
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float32).reshape(4)
    grow_x, grow_y = reach * (x1 - x0), reach * (y1 - y0)
    near = np.zeros_like(region)
    near[max(0, int(y0 - grow_y)): max(0, int(np.ceil(y1 + grow_y))),
         max(0, int(x0 - grow_x)): max(0, int(np.ceil(x1 + grow_x)))] = True
    region &= near
    if exclude is not None:
        region &= ~np.asarray(exclude, dtype=bool)
    return sample_points_in_mask(region, n, frame, margin=2.0)

