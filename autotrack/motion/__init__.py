"""Motion model and box geometry shared by the SAM2 engine and the identity manager."""

from autotrack.motion.geometry import mask_to_box
from autotrack.motion.kalman import BoxKalmanFilter

__all__ = ["BoxKalmanFilter", "mask_to_box"]
