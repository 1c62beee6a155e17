"""MOTChallenge text sink: one `frame,id,x,y,w,h,conf,-1,-1,-1` line per visible object, 1-based frames, and a
side file `<name>.classes.csv` (`id,class`) naming each object's class, since MOTChallenge results have no class
column (their columns 8-10 are world coordinates)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autotrack.sinks.base import Sink, class_names, visible
from autotrack.sinks.staging import commit, staging_path
from autotrack.types import FrameResult


def classes_path(path: str | Path) -> Path:
    """The side file naming each object's class beside the MOT file `path`: `<name>.classes.csv`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.classes.csv")


def format_mot_row(frame_number: int, track_id: int, xyxy: np.ndarray, score: float,
                   tail: Sequence[float] = (-1, -1, -1)) -> str:
    """One MOTChallenge line (with newline) from an xyxy box.

    Results use the default tail (`x,y,z` world coordinates unknown); ground truth passes `(class, visibility)`.
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    values = [x1, y1, x2 - x1, y2 - y1, float(score), *tail]
    return f"{frame_number},{track_id}," + ",".join(f"{v:g}" for v in values) + "\n"


class MotSink(Sink):
    """Appends each frame's visible objects to a MOTChallenge results file, and each new object's class to the
    side file `classes_path`; both are flushed every frame so another process can follow them while a run goes on
    (a file already there is replaced when the sink closes: `autotrack.sinks.staging`). Confidence is written as 1
    when the detections carry none."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.classes_path = classes_path(self.path)
        self._staging = {self.path: staging_path(self.path), self.classes_path: staging_path(self.classes_path)}
        self._file = open(self._staging[self.path], "w", encoding="utf-8")
        self._classes = open(self._staging[self.classes_path], "w", encoding="utf-8")
        self._classes.write("id,class\n")
        self._named: set[int] = set()

    def write(self, result: FrameResult) -> None:
        detections = visible(result.detections)
        names = class_names(detections)
        for i in range(len(detections)):
            score = detections.confidence[i] if detections.confidence is not None else 1.0
            track_id = int(detections.tracker_id[i])
            self._file.write(format_mot_row(result.frame_index + 1, track_id, detections.xyxy[i], score))
            if track_id not in self._named:
                self._named.add(track_id)
                self._classes.write(f"{track_id},{names[i]}\n")
        self._file.flush()
        self._classes.flush()

    def close(self) -> None:
        for file, path in ((self._file, self.path), (self._classes, self.classes_path)):
            if not file.closed:
                file.close()
                commit(self._staging[path], path)
