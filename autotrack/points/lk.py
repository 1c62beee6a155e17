"""Point tracking with OpenCV's pyramidal Lucas-Kanade optical flow, made trustworthy by three checks.

A point stays visible only while (1) LK converges both ways, (2) tracking it forward and then back lands within
`max_fb_error` px of where it started (forward-backward consistency), and (3) it moves with the other positive
points of its object: a similarity transform (rotation, scale, translation) is fitted with RANSAC to each object's
motion over the last `motion_window` frames, and points more than `max_motion_residual` px off it are dropped.
Check (3) catches points that an occluder's edge drags along a little every frame: they pass check (2), because
the occluder's texture is trackable too, and a one-frame motion check, because each step is small. Parts that move
differently from the whole object (a swinging arm) are dropped by it too; the point tracker re-seeds objects that run
low. A lost point is never revived: LK cannot tell where it went.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from autotrack.points.sampling import to_gray


class LucasKanadeTracker:
    """Frame-to-frame sparse optical flow with per-point visibility; the `lk` backend of `PointTracker`."""

    def __init__(
        self,
        win_size: int = 21,
        max_level: int = 3,
        max_fb_error: float = 1.0,
        max_motion_residual: float = 2.0,
        motion_window: int = 10,
    ) -> None:
        self.lk_params = dict(
            winSize=(win_size, win_size),
            maxLevel=max_level,
            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
        )
        self.max_fb_error = max_fb_error
        self.max_motion_residual = max_motion_residual
        self._frame: np.ndarray | None = None  # the last frame given, to skip re-converting it in reset()
        self._gray: np.ndarray | None = None
        self._points = np.zeros((0, 2), dtype=np.float32)
        self._visible = np.zeros(0, dtype=bool)
        self._groups = np.zeros(0, dtype=np.int64)
        self._history: deque[np.ndarray] = deque(maxlen=motion_window)  # positions on the last frames

    def reset(self, frame: np.ndarray | None, points: np.ndarray, visible: np.ndarray, groups: np.ndarray) -> None:
        """Track `points` (Kx2, on `frame`, or on the last frame when None) from now on; only `visible` ones move.

        Points sharing a group id >= 0 are expected to move together (one object's positives); -1 means no group.
        """
        if frame is not None and frame is not self._frame:
            self._frame, self._gray = frame, to_gray(frame)
        self._points = np.asarray(points, dtype=np.float32).reshape(-1, 2).copy()
        self._visible = np.asarray(visible, dtype=bool).copy()
        if self._gray is not None:
            self._visible &= self._inside(self._points, self._gray.shape)
        self._groups = np.asarray(groups, dtype=np.int64).copy()
        self._history.clear()
        self._history.append(self._points.copy())

    def step(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Move the visible points onto `frame`; return all points (Kx2) and their visibility (K,)."""
        gray = to_gray(frame)
        if self._gray is not None and gray.shape != self._gray.shape:
            raise ValueError(f"frame size changed from {self._gray.shape[::-1]} to {gray.shape[::-1]} (w, h)")
        live = np.flatnonzero(self._visible)
        if len(live) and self._gray is not None:
            start = self._points[live].reshape(-1, 1, 2)
            moved, ok_fwd, _ = cv2.calcOpticalFlowPyrLK(self._gray, gray, start, None, **self.lk_params)
            back, ok_bwd, _ = cv2.calcOpticalFlowPyrLK(gray, self._gray, moved, None, **self.lk_params)
            start, moved, back = start.reshape(-1, 2), moved.reshape(-1, 2), back.reshape(-1, 2)
            ok = (ok_fwd.ravel() == 1) & (ok_bwd.ravel() == 1)
            ok &= np.linalg.norm(back - start, axis=1) < self.max_fb_error
            ok &= self._inside(moved, gray.shape)
            ok &= self._moves_with_group(self._history[0][live], moved, self._groups[live], ok)  # oldest -> now
            self._points[live[ok]] = moved[ok]
            self._visible[live[~ok]] = False
        self._history.append(self._points.copy())
        self._frame, self._gray = frame, gray
        return self._points.copy(), self._visible.copy()

    def catch_up(self) -> None:
        """Nothing to do: every step answers on its own frame."""
        return None

    def _moves_with_group(self, start: np.ndarray, moved: np.ndarray, groups: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """False for points more than `max_motion_residual` px off their group's RANSAC similarity motion
        from `start` to `moved`."""
        keep = np.ones(len(start), dtype=bool)
        for group in np.unique(groups[groups >= 0]):
            members = np.flatnonzero((groups == group) & ok)
            if len(members) < 3:  # too few to tell the object's motion from an outlier's
                continue
            motion, inliers = cv2.estimateAffinePartial2D(
                start[members], moved[members], method=cv2.RANSAC, ransacReprojThreshold=self.max_motion_residual
            )
            if motion is not None:
                keep[members[inliers.ravel() == 0]] = False
        return keep

    @staticmethod
    def _inside(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """True for points inside a frame of this shape."""
        h, w = shape[:2]
        x, y = points[:, 0], points[:, 1]
        return (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
