"""Draw a frame's objects with supervision's annotators, coloured by tracker id (shared by the video and display
sinks)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from autotrack.sinks.base import visible


def object_labels(detections: sv.Detections) -> list[str]:
    """`#<tracker id> <class name>` for each row (the class name is left out when unknown)."""
    names = detections.data.get("class_name")
    labels = []
    for i, tracker_id in enumerate(detections.tracker_id):
        name = str(names[i]) if names is not None else ""
        labels.append(f"#{tracker_id} {name}".rstrip())
    return labels


class FrameAnnotator:
    """Masks, boxes, `#id class` labels and motion traces. Holds the trace history, so use one per video."""

    def __init__(self, trace_length: int = 30) -> None:
        lookup = sv.ColorLookup.TRACK
        self.mask = sv.MaskAnnotator(color_lookup=lookup)
        self.box = sv.BoxAnnotator(color_lookup=lookup)
        self.label = sv.LabelAnnotator(color_lookup=lookup)
        self.trace = sv.TraceAnnotator(color_lookup=lookup, trace_length=trace_length)

    def __call__(self, frame: np.ndarray, detections: sv.Detections) -> np.ndarray:
        """Return an annotated copy of a BGR frame; the frame itself is left unchanged."""
        detections = visible(detections)
        scene = frame.copy()
        if len(detections) == 0:
            return scene
        scene = self.mask.annotate(scene, detections)
        scene = self.box.annotate(scene, detections)
        scene = self.trace.annotate(scene, detections)
        return self.label.annotate(scene, detections, labels=object_labels(detections))
