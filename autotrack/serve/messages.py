"""What the page and API clients receive about a frame: plain JSON rows for objects and events, and a JPEG."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import supervision as sv

from autotrack.types import FrameResult, Status

# an object's outline on the page, sent every frame: enough to highlight its mask, small enough to send
MAX_POLYGONS = 20
MAX_OUTLINE_POINTS = 200
# the event kinds sent out (MQTT, webhooks): births, re-entries, losses, removals, re-identifications, detector class
# changes and reconnects
PUBLISHED = ("born", "resumed", "lost", "removed", "reidentified", "classes", "reconnected")


def _number(value: float) -> float | None:
    """A score for JSON: rounded, None when unknown (NaN)."""
    return None if value is None or math.isnan(value) else round(float(value), 3)


def outline(mask: np.ndarray) -> list[list[list[int]]]:
    """The mask's largest outer contours as polygons of [x, y] pixels, simplified until they have at most
    MAX_OUTLINE_POINTS points together (or as far as an 8-pixel tolerance goes)."""
    polygons = sorted(sv.mask_to_polygons(mask), key=cv2.contourArea, reverse=True)[:MAX_POLYGONS]
    for epsilon in (0.5, 1.0, 2.0, 4.0, 8.0):
        simple = [cv2.approxPolyDP(polygon, epsilon, True).reshape(-1, 2) for polygon in polygons]
        if sum(len(polygon) for polygon in simple) <= MAX_OUTLINE_POINTS:
            break
    return [polygon.tolist() for polygon in simple]


def object_rows(result: FrameResult, first_seen: dict[int, int]) -> list[dict]:
    """One row per live object: id, class, status, scores, age in frames (since `first_seen`), box and outline."""
    detections = result.detections
    if detections.tracker_id is None or len(detections) == 0:
        return []
    data = detections.data
    rows = []
    for i, tracker_id in enumerate(detections.tracker_id.tolist()):
        mask = detections.mask[i] if detections.mask is not None else None
        rows.append({
            "id": tracker_id,
            "class": str(data["class_name"][i]) if "class_name" in data else "",
            "status": str(data["status"][i]) if "status" in data else Status.TRACKED,
            "affinity": _number(data["affinity"][i]) if "affinity" in data else None,
            "occurrence": _number(data["occurrence"][i]) if "occurrence" in data else None,
            "motion": _number(data["motion"][i]) if "motion" in data else None,
            "age": result.frame_index - first_seen.get(tracker_id, result.frame_index),
            "box": [round(float(v), 1) for v in detections.xyxy[i]],
            "outline": outline(mask) if mask is not None and mask.any() else [],
        })
    return rows


def event_row(kind: str, frame: int | None, object_id: int | None = None, reason: str = "") -> dict:
    """One line of the event log: the pipeline's events (born, reprompted, occluded, resumed, lost, removed,
    reidentified, merged, split, reconnected) and the console's (starting, started, paused, resumed, classes, stopped, finished,
    failed)."""
    return {"time": round(time.time(), 3), "frame": frame, "kind": kind, "id": object_id, "reason": reason}


def identity_events(result: FrameResult) -> list[dict]:
    """The identity manager's decisions on this frame, as event log lines."""
    return [event_row(event.kind, result.frame_index, event.tracker_id, event.reason) for event in result.events]


def outgoing(camera: str, rows: list[dict], classes: dict[int, str]) -> list[dict]:
    """The event rows of the kinds sent out, each with its `camera` and its object's class from `classes`."""
    return [{"camera": camera, **row, "class": classes.get(row["id"], "")} for row in rows
            if row["kind"] in PUBLISHED]


def encode_jpeg(image: np.ndarray, max_width: int, quality: int = 80) -> bytes:
    """A BGR frame as JPEG bytes, scaled down to at most `max_width` pixels wide."""
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()
