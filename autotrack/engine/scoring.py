"""SAMURAI's motion-aware choice among SAM2's candidate masks, and each object's one motion model: the Kalman filter
that scores its candidates also predicts where it will be next (`ObjectState.next_box`, read by the identity
manager)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from autotrack.motion import BoxKalmanFilter

STABLE_FRAMES = 15  # consecutive confident frames before motion is trusted
CONFIDENCE_GATE = 0.3  # predicted IoU at or below this restarts the stability count


@dataclass
class MotionScorer:
    """Picks a candidate mask per frame from its box and predicted IoU.

    Until the filter is stable (STABLE_FRAMES consecutive frames whose best predicted IoU > CONFIDENCE_GATE), the
    candidate with the best predicted IoU wins and updates the filter. Once stable, each candidate scores
    `weight * IoU(predicted box, candidate box) + (1 - weight) * predicted IoU`; the winner updates the filter unless
    its predicted IoU < CONFIDENCE_GATE, which restarts the count. An empty candidate box never updates the filter.

    The filter advances every frame once it has a box, also while the count restarts (the restart re-initiates it,
    so scoring is unchanged), so its prediction coasts while the object is hidden. With `scoring` False (plain SAM2)
    the best predicted IoU always wins and the filter only follows, under the same rules, for its prediction.
    """

    weight: float = 0.25
    scoring: bool = True
    kalman: BoxKalmanFilter = field(default_factory=BoxKalmanFilter)
    stable_count: int = 0

    def start(self, box: np.ndarray) -> None:
        """(Re)start the filter at a prompted box."""
        if _is_empty(box):
            return
        self.kalman.initiate(box)
        self.stable_count = 1

    def choose(self, boxes: np.ndarray, pred_ious: np.ndarray) -> tuple[int, float | None]:
        """Return the chosen candidate's index and its motion score (None until the filter is stable)."""
        best = int(np.argmax(pred_ious))
        predicted = self.kalman.predict() if self.kalman.initialized else None
        if predicted is None or self.stable_count == 0:
            if pred_ious[best] > CONFIDENCE_GATE:
                self.start(boxes[best])
            return best, None
        if not self.scoring or self.stable_count < STABLE_FRAMES:
            self._observe(boxes[best], pred_ious[best])
            return best, None
        motion = np.array([sv.box_iou(predicted, box) for box in boxes])
        chosen = int(np.argmax(self.weight * motion + (1 - self.weight) * pred_ious))
        self._observe(boxes[chosen], pred_ious[chosen])
        return chosen, float(motion[chosen])

    @property
    def next_box(self) -> np.ndarray | None:
        """The filter's xyxy box on the next frame (it is not advanced); None until it has had a box."""
        return self.kalman.next_box() if self.kalman.initialized else None

    def _observe(self, box: np.ndarray, pred_iou: float) -> None:
        if pred_iou > CONFIDENCE_GATE and not _is_empty(box):
            self.kalman.update(box)
            self.stable_count += 1
        else:
            self.stable_count = 0


def _is_empty(box: np.ndarray) -> bool:
    return bool(box[2] <= box[0] or box[3] <= box[1])
