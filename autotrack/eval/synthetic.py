"""Synthetic tracking scenarios with exact ground truth: textured objects moving over a textured background.

The "mixed" scenario holds every hard case at once, each in its own part of the frame:
- occlusion: a large rectangle passes in front of a small ellipse and hides it completely for a few frames;
- crossing: two objects cross paths, one in front of the other;
- exit_reentry: an object leaves through the right edge and comes back with the same ID;
- distractor: a look-alike (same shape, size and texture) of the re-entering object stays in view;
- late_entry: two objects enter the frame mid-video.
Any single case can be asked for by name. Motion is given by waypoints in normalised time (0 = first frame,
1 = last frame) and normalised coordinates, so a scenario keeps its story at any size and length.
Everything is deterministic for a seed.

    scenario = make_scenario("mixed", n_frames=90, size=(320, 240), seed=0)
    for frame, truth in render_scenario(scenario):
        ...  # frame: BGR uint8; truth: ids, visible masks, boxes, visibility
    write_scenario(scenario, "out/")  # MOT and DAVIS layouts plus a video file
"""

from __future__ import annotations

import configparser
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from autotrack.errors import InputError
from autotrack.motion import mask_to_box
from autotrack.sinks.davis import write_index_png
from autotrack.sinks.mot import format_mot_row
from autotrack.sinks.video import open_video_writer


@dataclass(frozen=True)
class _Spec:
    """One object of the mixed layout. `waypoints` are (t, cx, cy), `size` is (w, h), all in [0, 1] units of the
    video length and the frame size; the object exists from its first waypoint's time to its last one's."""

    role: str
    kinds: tuple[str, ...]
    shape: str  # "ellipse" or "rectangle"
    texture: str  # "noise" or "stripes"
    size: tuple[float, float]
    waypoints: tuple[tuple[float, float, float], ...]
    depth: int  # drawing order: higher is in front
    looks_like: str | None = None  # role of the object whose shape, size and texture this one copies


# Ordered by first appearance, so object IDs (list position + 1) are in order of first appearance too.
_LAYOUT = (
    _Spec("occluded", ("occlusion",), "ellipse", "noise", (0.14, 0.20),
          ((0.0, 0.25, 0.75), (1.0, 0.65, 0.75)), depth=0),
    _Spec("occluder", ("occlusion",), "rectangle", "stripes", (0.28, 0.40),
          ((0.0, 0.90, 0.74), (1.0, 0.00, 0.74)), depth=3),
    _Spec("crossing_front", ("crossing",), "ellipse", "stripes", (0.13, 0.18),
          ((0.0, 0.10, 0.14), (1.0, 0.55, 0.30)), depth=2),
    _Spec("crossing_back", ("crossing",), "rectangle", "noise", (0.13, 0.18),
          ((0.0, 0.55, 0.14), (1.0, 0.10, 0.30)), depth=1),
    _Spec("reentering", ("exit_reentry", "distractor"), "ellipse", "noise", (0.12, 0.16),
          ((0.0, 0.80, 0.42), (0.25, 1.20, 0.42), (0.5, 1.20, 0.42), (0.75, 0.80, 0.42), (1.0, 0.70, 0.42)),
          depth=1),
    _Spec("distractor", ("distractor",), "ellipse", "noise", (0.12, 0.16),
          ((0.0, 0.15, 0.45), (1.0, 0.25, 0.45)), depth=1, looks_like="reentering"),
    _Spec("late_top", ("late_entry",), "rectangle", "stripes", (0.12, 0.16),
          ((0.4, 0.85, -0.12), (0.7, 0.85, 0.20), (1.0, 0.85, 0.20)), depth=1),
    _Spec("late_bottom", ("late_entry",), "rectangle", "noise", (0.12, 0.16),
          ((0.6, 0.90, 1.12), (0.9, 0.90, 0.80), (1.0, 0.90, 0.80)), depth=1),
)
KINDS = ("mixed", "occlusion", "crossing", "exit_reentry", "distractor", "late_entry")


@dataclass
class SyntheticObject:
    """One object: its look (a texture patch and a shape mask of the same size) and where it is on every frame.

    `boxes` are amodal xyxy pixel boxes (they may reach outside the frame); `present` says on which frames the
    object exists at all (it may still be outside the frame or hidden).
    """

    object_id: int
    role: str
    texture: np.ndarray  # h x w x 3 BGR uint8
    shape_mask: np.ndarray  # h x w bool
    depth: int
    boxes: np.ndarray  # n_frames x 4 int
    present: np.ndarray  # n_frames bool


@dataclass
class Scenario:
    """A rendered-on-demand clip: background, objects and their trajectories."""

    kind: str
    width: int
    height: int
    n_frames: int
    fps: float
    seed: int
    background: np.ndarray  # H x W x 3 BGR uint8
    objects: list[SyntheticObject]

    def object_by_role(self, role: str) -> SyntheticObject:
        """The object that plays `role` (e.g. "occluded", "reentering"); KeyError when this kind has none."""
        for obj in self.objects:
            if obj.role == role:
                return obj
        raise KeyError(f"scenario {self.kind!r} has no {role!r} object")


@dataclass
class FrameTruth:
    """Ground truth of one frame, for the objects with at least one visible pixel, sorted by ID.

    `masks` hold the visible part only (occlusion by objects in front and the frame border removed), `boxes` are
    the xyxy boxes of those masks, `visibility` is visible pixels / full object pixels.
    """

    frame_index: int
    ids: np.ndarray  # N int
    masks: np.ndarray  # N x H x W bool
    boxes: np.ndarray  # N x 4 float32
    visibility: np.ndarray  # N float32

    def to_detections(self) -> sv.Detections:
        """The truth as supervision Detections (class 0, confidence 1, tracker_id = object ID), e.g. for a stub
        detector or a sink."""
        n = len(self.ids)
        return sv.Detections(xyxy=self.boxes, mask=self.masks, confidence=np.ones(n, np.float32),
                             class_id=np.zeros(n, int), tracker_id=self.ids.copy())


def _distinct_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """n saturated BGR colours with hues spread by the golden ratio from a random start."""
    hues = (rng.random() + np.arange(n) * 0.618034) % 1.0
    hsv = np.stack([hues * 180, np.full(n, 220), np.full(n, 230)], axis=1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]


def _texture(kind: str, colour: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A textured h x w patch in one colour: smoothed colour noise, or stripes at a random angle and period."""
    if kind == "noise":
        noise = cv2.GaussianBlur(rng.normal(0, 90, (h, w, 3)), (0, 0), 1.0)
        patch = colour[None, None].astype(float) + noise
    else:
        angle, period = rng.uniform(0, np.pi), rng.uniform(5, 10)
        yy, xx = np.mgrid[:h, :w]
        stripe = ((xx * np.cos(angle) + yy * np.sin(angle)) / period) % 1.0 < 0.5
        patch = colour[None, None] * np.where(stripe, 1.0, 0.45)[..., None]
    return np.clip(patch, 0, 255).astype(np.uint8)


def _shape_mask(shape: str, h: int, w: int) -> np.ndarray:
    if shape == "rectangle":
        return np.ones((h, w), dtype=bool)
    yy, xx = np.mgrid[:h, :w]
    return ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2 <= 1.0


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Low-contrast greyish blobs plus fine grain, so the background is textured but objects stand out."""
    coarse = rng.uniform(70, 150, (height // 16 + 2, width // 16 + 2, 3))
    blobs = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    grey = blobs.mean(axis=2, keepdims=True)
    background = 0.7 * grey + 0.3 * blobs + rng.normal(0, 6, (height, width, 3))
    return np.clip(background, 0, 255).astype(np.uint8)


def make_scenario(kind: str = "mixed", n_frames: int = 90, size: tuple[int, int] = (320, 240), seed: int = 0,
                  fps: float = 30.0) -> Scenario:
    """Build a scenario: `kind` is "mixed" (every case) or one of "occlusion", "crossing", "exit_reentry",
    "distractor", "late_entry"; `size` is (width, height)."""
    if kind not in KINDS:
        raise InputError(f"unknown scenario kind {kind!r}; choose from {', '.join(KINDS)}")
    width, height = size
    if n_frames < 2 or width < 64 or height < 48:
        raise InputError(f"a scenario needs at least 2 frames of 64x48 pixels, got {n_frames} of {width}x{height}")
    if fps <= 0:
        raise InputError(f"fps must be positive, got {fps}")
    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    colours = _distinct_colours(len(_LAYOUT), rng)
    t = np.linspace(0.0, 1.0, n_frames)

    looks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    objects = []
    for spec, colour in zip(_LAYOUT, colours):
        w, h = max(4, round(spec.size[0] * width)), max(4, round(spec.size[1] * height))
        if spec.looks_like is None:
            looks[spec.role] = _texture(spec.texture, colour, h, w, rng), _shape_mask(spec.shape, h, w)
        else:
            looks[spec.role] = looks[spec.looks_like]
        if kind != "mixed" and kind not in spec.kinds:
            continue
        times, cx, cy = np.array(spec.waypoints).T
        x1 = np.round(np.interp(t, times, cx) * width - w / 2).astype(int)
        y1 = np.round(np.interp(t, times, cy) * height - h / 2).astype(int)
        objects.append(SyntheticObject(
            object_id=len(objects) + 1, role=spec.role, texture=looks[spec.role][0],
            shape_mask=looks[spec.role][1], depth=spec.depth, boxes=np.stack([x1, y1, x1 + w, y1 + h], axis=1),
            present=(t >= times[0]) & (t <= times[-1])))
    return Scenario(kind, width, height, n_frames, fps, seed, background, objects)


def render_frame(scenario: Scenario, frame_index: int) -> tuple[np.ndarray, FrameTruth]:
    """Draw one frame back to front and return it with its ground truth."""
    frame = scenario.background.copy()
    owner = np.zeros((scenario.height, scenario.width), dtype=np.int32)  # ID of the front-most object, 0 = none
    drawn = [obj for obj in sorted(scenario.objects, key=lambda o: o.depth) if obj.present[frame_index]]
    for obj in drawn:
        x1, y1, x2, y2 = obj.boxes[frame_index]
        fx1, fy1 = max(x1, 0), max(y1, 0)
        fx2, fy2 = min(x2, scenario.width), min(y2, scenario.height)
        if fx1 >= fx2 or fy1 >= fy2:
            continue  # outside the frame
        shape = obj.shape_mask[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1]
        frame[fy1:fy2, fx1:fx2][shape] = obj.texture[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1][shape]
        owner[fy1:fy2, fx1:fx2][shape] = obj.object_id

    ids, masks, visibility = [], [], []
    for obj in sorted(scenario.objects, key=lambda o: o.object_id):
        mask = owner == obj.object_id
        if mask.any():
            ids.append(obj.object_id)
            masks.append(mask)
            visibility.append(mask.sum() / obj.shape_mask.sum())
    masks_array = np.stack(masks) if masks else np.zeros((0, scenario.height, scenario.width), dtype=bool)
    truth = FrameTruth(
        frame_index=frame_index,
        ids=np.array(ids, dtype=int),
        masks=masks_array,
        boxes=np.array([mask_to_box(m) for m in masks], dtype=np.float32).reshape(-1, 4),
        visibility=np.array(visibility, dtype=np.float32),
    )
    return frame, truth


def render_scenario(scenario: Scenario) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Yield (BGR frame, ground truth) for every frame, in order."""
    for frame_index in range(scenario.n_frames):
        yield render_frame(scenario, frame_index)


@dataclass
class ScenarioFiles:
    """Where `write_scenario` put each part."""

    sequence_dir: Path  # MOT layout: img1/000001.jpg, gt/gt.txt, seqinfo.ini
    video: Path  # <sequence_dir>/video.mp4
    davis_images: Path  # JPEGImages/<seq>/00000.jpg
    davis_annotations: Path  # Annotations/<seq>/00000.png


def write_scenario(scenario: Scenario, out_dir: str | Path, name: str | None = None) -> ScenarioFiles:
    """Render a scenario and write it in MOTChallenge layout (`<name>/img1`, `<name>/gt/gt.txt` with
    `frame,id,x,y,w,h,1,1,visibility` rows, `<name>/seqinfo.ini`), as `<name>/video.mp4`, and in DAVIS layout
    (`JPEGImages/<name>/00000.jpg`, `Annotations/<name>/00000.png` palette PNGs whose values are object IDs).

    `name` defaults to `synthetic-<kind>-<seed>`.
    """
    out_dir = Path(out_dir)
    name = name or f"synthetic-{scenario.kind}-{scenario.seed}"
    files = ScenarioFiles(out_dir / name, out_dir / name / "video.mp4", out_dir / "JPEGImages" / name,
                          out_dir / "Annotations" / name)
    for folder in (files.sequence_dir / "img1", files.sequence_dir / "gt", files.davis_images,
                   files.davis_annotations):
        folder.mkdir(parents=True, exist_ok=True)

    seqinfo = configparser.ConfigParser()
    seqinfo.optionxform = str  # keep MOT's camelCase keys
    seqinfo["Sequence"] = {"name": name, "imDir": "img1", "frameRate": f"{scenario.fps:g}",
                           "seqLength": str(scenario.n_frames), "imWidth": str(scenario.width),
                           "imHeight": str(scenario.height), "imExt": ".jpg"}
    with open(files.sequence_dir / "seqinfo.ini", "w", encoding="utf-8") as f:
        seqinfo.write(f, space_around_delimiters=False)

    video = open_video_writer(files.video, scenario.fps, (scenario.width, scenario.height))
    try:
        with open(files.sequence_dir / "gt" / "gt.txt", "w", encoding="utf-8") as gt:
            for frame, truth in render_scenario(scenario):
                f = truth.frame_index
                video.write(frame)
                cv2.imwrite(str(files.sequence_dir / "img1" / f"{f + 1:06d}.jpg"), frame,
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                shutil.copyfile(files.sequence_dir / "img1" / f"{f + 1:06d}.jpg", files.davis_images / f"{f:05d}.jpg")
                labels = np.zeros((scenario.height, scenario.width), dtype=np.uint8)
                for object_id, mask, box, visibility in zip(truth.ids, truth.masks, truth.boxes, truth.visibility):
                    labels[mask] = object_id
                    gt.write(format_mot_row(f + 1, int(object_id), box, 1, tail=(1, round(float(visibility), 4))))
                write_index_png(files.davis_annotations / f"{f:05d}.png", labels)
    finally:
        video.release()
    return files
