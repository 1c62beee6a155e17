"""Constant-velocity Kalman filter on boxes in XYAH form (centre x, centre y, aspect w/h, height), on filterpy.

Noise follows SAMURAI (itself from ByteTrack/DeepSORT): position and velocity noise scale with the box height
(weights 1/20 and 1/160); the aspect terms use fixed 1e-2 (position), 1e-5 (velocity) and 1e-1 (measurement).
"""

from __future__ import annotations

import numpy as np
import supervision as sv
from filterpy.kalman import KalmanFilter

_POS_WEIGHT = 1.0 / 20
_VEL_WEIGHT = 1.0 / 160


def _xyah(box: np.ndarray) -> np.ndarray:
    """xyxy -> (cx, cy, w/h, h), supervision's measurement space."""
    return sv.xyxy_to_xcycarh(np.asarray(box, dtype=np.float64)[None])[0]


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(cx, cy, w/h, h) -> xyxy."""
    cx, cy, a, h = xyah[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)


class BoxKalmanFilter:
    """One object's motion: `initiate(box)`, then per frame `predict()` and, for reliable frames, `update(box)`."""

    def __init__(self) -> None:
        self.kf = KalmanFilter(dim_x=8, dim_z=4)
        self.kf.F = np.eye(8)
        self.kf.F[:4, 4:] = np.eye(4)  # constant velocity, one frame per step
        self.kf.H = np.eye(4, 8)
        self.initialized = False

    def _std_process(self, h: float) -> np.ndarray:
        pos = [_POS_WEIGHT * h, _POS_WEIGHT * h, 1e-2, _POS_WEIGHT * h]
        vel = [_VEL_WEIGHT * h, _VEL_WEIGHT * h, 1e-5, _VEL_WEIGHT * h]
        return np.array(pos + vel)

    def initiate(self, box: np.ndarray) -> None:
        """Start the filter at a box, with zero velocity and height-scaled uncertainty."""
        z = _xyah(box)
        h = z[3]
        self.kf.x = np.concatenate([z, np.zeros(4)])[:, None]
        std = [2 * _POS_WEIGHT * h, 2 * _POS_WEIGHT * h, 1e-2, 2 * _POS_WEIGHT * h,
               10 * _VEL_WEIGHT * h, 10 * _VEL_WEIGHT * h, 1e-5, 10 * _VEL_WEIGHT * h]
        self.kf.P = np.diag(np.square(std))
        self.initialized = True

    def predict(self) -> np.ndarray:
        """Advance one frame and return the predicted xyxy box."""
        self.kf.Q = np.diag(np.square(self._std_process(float(self.kf.x[3, 0]))))
        self.kf.predict()
        return self.box

    def update(self, box: np.ndarray) -> None:
        """Correct the state with a measured xyxy box."""
        h = float(self.kf.x[3, 0])
        self.kf.R = np.diag(np.square([_POS_WEIGHT * h, _POS_WEIGHT * h, 1e-1, _POS_WEIGHT * h]))
        self.kf.update(_xyah(box)[:, None])

    def next_box(self) -> np.ndarray:
        """The xyxy box `predict` would give on the next frame, without advancing the filter (for readers of the
        motion model that must not change it)."""
        return xyah_to_xyxy((self.kf.F @ self.kf.x)[:4, 0])

    @property
    def box(self) -> np.ndarray:
        """The current state's xyxy box."""
        return xyah_to_xyxy(self.kf.x[:4, 0])
