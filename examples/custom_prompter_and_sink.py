"""Compose a pipeline in Python with your own prompter and your own sink.

The prompter here is a toy colour detector (any `Prompter` that returns `supervision.Detections` works: another
detector, a database of boxes, a UI); the sink counts how long each object has been seen. Run it on any video:

    python examples/custom_prompter_and_sink.py VIDEO [--sam-weights random] [--max-frames 50]
"""

from __future__ import annotations

import argparse
from collections import Counter

import cv2
import numpy as np
import supervision as sv

from autotrack import FrameResult, SAM2Tracker
from autotrack.pipeline import Pipeline
from autotrack.prompters import Prompter
from autotrack.sinks import MotSink, Sink


class BrightBlobs(Prompter):
    """A prompter: boxes around large bright regions, every 5th frame."""

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections:
        if frame_index % 5:
            return sv.Detections.empty()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        _, binary = cv2.threshold(gray, 200, 255, cv2.THRESH_BINARY)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 0.002 * gray.size]
        if not boxes:
            return sv.Detections.empty()
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=np.float32)
        return sv.Detections(xyxy=xyxy, confidence=np.full(len(xyxy), 0.9, np.float32))


class SeenCounter(Sink):
    """A sink: counts the frames on which each ID was visible."""

    def __init__(self) -> None:
        self.frames_seen: Counter = Counter()

    def write(self, result: FrameResult) -> None:
        detections = result.detections
        if detections.tracker_id is not None:
            visible = detections.data["status"] == "tracked"
            self.frames_seen.update(int(i) for i in detections.tracker_id[visible])

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--sam-weights", default=None, help="SAM2 weights file, or 'random'")
    parser.add_argument("--imgsz", type=int, default=512)
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--mot", default="custom.txt")
    args = parser.parse_args()

    counter = SeenCounter()
    tracker = SAM2Tracker("sam2.1_t", weights=args.sam_weights, imgsz=args.imgsz)
    pipeline = Pipeline(args.video, BrightBlobs(), tracker, sinks=[counter, MotSink(args.mot)],
                        max_frames=args.max_frames)
    summary = pipeline.run()
    print(f"{summary.frames} frames at {summary.fps:.1f} fps, {summary.objects} objects")
    for tracker_id, frames in sorted(counter.frames_seen.items()):
        print(f"object {tracker_id}: visible on {frames} frames")


if __name__ == "__main__":
    main()
