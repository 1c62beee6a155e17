"""Motion model (the engine's one Kalman filter per object) and box geometry (mask-to-box, shared with the identity
manager)."""

from autotrack.motion.geometry import mask_to_box
from autotrack.motion.kalman import BoxKalmanFilter

__all__ = ["BoxKalmanFilter", "mask_to_box"]
