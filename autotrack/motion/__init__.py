"""Motion model and box geometry shared by the SAM2 engine and the identity manager."""

from autotrack.motion.geometry import box_iou, mask_to_box
from autotrack.motion.kalman import BoxKalmanFilter

__all__ = ["BoxKalmanFilter", "box_iou", "mask_to_box"]
