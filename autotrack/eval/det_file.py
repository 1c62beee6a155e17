"""DetFilePrompter: boxes from a MOTChallenge detection file, so a benchmark's public detections prompt the tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import supervision as sv

from autotrack.eval.mot import read_mot_file
from autotrack.prompters.base import Prompter


class DetFilePrompter(Prompter):
    """Reads `det/det.txt` (`frame,-1,x,y,w,h,conf,...`, frames from 1) and gives each frame's boxes.

    Called as `(frame, frame_index)` like every prompter; `frame_index` is 0-based, so it reads frame
    `frame_index + 1` of the file. Frames without detections give empty Detections.
    """

    def __init__(self, path: str | Path) -> None:
        rows = read_mot_file(Path(path), min_columns=7)
        self._by_frame = {int(frame): rows[rows[:, 0] == frame] for frame in np.unique(rows[:, 0])}

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections:
        rows = self._by_frame.get(frame_index + 1)
        if rows is None:
            return sv.Detections.empty()
        xyxy = rows[:, 2:6].astype(np.float32)
        xyxy[:, 2:] += xyxy[:, :2]
        return sv.Detections(xyxy=xyxy, confidence=rows[:, 6].astype(np.float32))
