"""Auto-labelling: every n-th frame and its tracked masks as a training set, in YOLO segmentation or COCO format.

Layout of the dataset folder:
    yolo: images/<frame>.jpg, labels/<frame>.txt (one line per object: its class and one normalised polygon),
          data.yaml (`train` and `val` both images/, `names` in order of first appearance)
    coco: images/<frame>.jpg, annotations.json (categories from 1; one annotation per object, `iscrowd` 0, its
          `segmentation` one polygon per piece of its mask)

One object is one instance, however many pieces its mask is in (an object behind a pole, or a mask with specks):
    - The outlines come from supervision (`approximate_mask_with_polygons` with `bridge_holes`): one polygon per
      piece, each hole joined to its piece's outline by a zero-width seam, so holes stay holes when the polygon is
      filled. A piece too small to outline (under 3 contour points) is left out, and an object with no outline at all
      is not written.
    - YOLO: one line per object is the format's rule (a line is an instance). The pieces are joined into one polygon
      by ultralytics' own `merge_multi_segment`, as ultralytics' COCO converter and dataset loader join a COCO
      object's polygons; the joins are zero-width seams, so the filled polygon is the pieces plus one-pixel lines.
    - COCO: `iscrowd` 0 with polygons, what COCO's format page documents for a single object ("iscrowd=0 in which
      case polygons are used"); `iscrowd` 1 with RLE marks a collection of objects, a crowd region that COCO's
      evaluator ignores and trainers (detectron2, mmdetection) leave out.
      supervision's `detections_to_coco_annotations` writes every mask in pieces or with holes as `iscrowd` 1, so the
      annotations are built here (`autotrack.sinks.coco.coco_annotation`) with the bridged polygons.
The categories come from supervision's `classes_to_coco_categories`. One frame is written at a time, so no mask is
kept in memory. The folder is a loadable dataset after every frame: files are written under a temporary name and
renamed, data.yaml before a label that needs a new class, a label before its image, an image before its COCO entry
(which `CocoFile` appends keeping the JSON valid). An interrupted run leaves a dataset of the frames written so far.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
import yaml

from autotrack.errors import AutotrackError
from autotrack.sinks.base import Sink, visible
from autotrack.sinks.coco import CocoFile, coco_annotation
from autotrack.types import FrameResult

FORMATS = ("yolo", "coco")
DEFAULT_CLASS = "object"  # class of objects without a class name (e.g. prompted by the user without one)


class DatasetError(AutotrackError, OSError):
    """The dataset folder cannot be written; the message says which and why."""


def check_dataset(path: str | Path, format: str = "yolo", every: int = 1) -> None:
    """Refuse, before a run starts, an unknown format, `every` below 1, or a folder that is not empty (a dataset
    would be mixed into it) or that cannot be created or written."""
    if format not in FORMATS:
        raise DatasetError(f"dataset format must be one of {', '.join(FORMATS)}, got {format!r}")
    if every < 1:
        raise DatasetError(f"dataset every must be at least 1, got {every}")
    path = Path(path)
    if path.exists():
        if not path.is_dir() or any(path.iterdir()):
            raise DatasetError(f"dataset folder {path} is not an empty folder; choose a new one")
        existing = path
    else:
        existing = next(p for p in path.absolute().parents if p.exists())
        if not existing.is_dir():
            raise DatasetError(f"dataset folder {path} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DatasetError(f"dataset folder {path} cannot be written: no permission in {existing}")


def object_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """The outline of each piece of a mask, holes joined in (module docstring), as (N, 2) pixel polygons."""
    from supervision.dataset.utils import approximate_mask_with_polygons

    return approximate_mask_with_polygons(mask, bridge_holes=True)


def yolo_line(class_id: int, polygons: list[np.ndarray], image_shape: tuple[int, ...]) -> str:
    """One YOLO segmentation line for one object: its pieces joined into one polygon by ultralytics'
    `merge_multi_segment`, then normalised by the image's width and height."""
    from ultralytics.data.converter import merge_multi_segment

    polygon = np.concatenate(merge_multi_segment(polygons)) if len(polygons) > 1 else polygons[0]
    height, width = image_shape[:2]
    return " ".join([str(class_id), *(f"{v:.5f}" for v in (polygon / [width, height]).ravel())])


class DatasetSink(Sink):
    """Writes every `every`-th frame with the masks of its visible objects as a YOLO or COCO dataset.

    Args:
        directory: the dataset folder (created; refused when it holds files already).
        format: "yolo" (segmentation polygons and data.yaml) or "coco" (annotations.json).
        every: write frames whose index is a multiple of this.

    Attributes:
        classes: class names by dataset class index, in order of first appearance.
    """

    def __init__(self, directory: str | Path, format: str = "yolo", every: int = 1) -> None:
        check_dataset(directory, format, every)
        self.directory = Path(directory)
        self.format = format
        self.every = every
        self.classes: list[str] = []
        try:
            (self.directory / "images").mkdir(parents=True, exist_ok=True)
            if format == "yolo":
                (self.directory / "labels").mkdir(exist_ok=True)
                self._write_data_yaml()
                self._coco = None
            else:
                self._coco = CocoFile(self.directory / "annotations.json", "autotrack auto-labelled dataset")
        except OSError as error:
            raise DatasetError(f"dataset folder {directory} cannot be written: {error.strerror or error}") from None

    def write(self, result: FrameResult) -> None:
        if result.frame_index % self.every:
            return
        detections, outlines = self._labelled(visible(result.detections))
        name = f"{result.frame_index:06d}"
        image = self.directory / "images" / f"{name}.jpg"
        if self.format == "yolo":
            shape = result.frame.shape
            lines = [yolo_line(int(c), polygons, shape) for c, polygons in zip(detections.class_id, outlines)]
            self._replace(self.directory / "labels" / f"{name}.txt", "".join(line + "\n" for line in lines))
            self._replace(image, result.frame)
        else:
            from supervision.dataset.formats.coco import classes_to_coco_categories

            image_id = result.frame_index + 1
            rows = zip(detections.xyxy, detections.mask, detections.class_id, outlines)
            annotations = [coco_annotation(self._coco.n_annotations + i, image_id, int(class_id) + 1, xyxy, mask,
                                           [polygon.ravel().tolist() for polygon in polygons])
                           for i, (xyxy, mask, class_id, polygons) in enumerate(rows, start=1)]
            self._replace(image, result.frame)
            height, width = result.frame.shape[:2]
            entry = {"id": image_id, "file_name": image.name, "width": width, "height": height}
            self._coco.add(entry, annotations, classes_to_coco_categories(self.classes))

    def close(self) -> None:
        if self._coco is not None:
            self._coco.close()

    def _labelled(self, detections: sv.Detections) -> tuple[sv.Detections, list[list[np.ndarray]]]:
        """The rows whose masks have an outline, `class_id` set to the dataset's class index of their class name (new
        names are added to `classes`, and to data.yaml at once), and their outlines (`object_polygons`)."""
        outlines = [object_polygons(mask) for mask in detections.mask] if detections.mask is not None else []
        detections = detections[np.array([bool(o) for o in outlines], dtype=bool)] if outlines else detections[:0]
        outlines = [o for o in outlines if o]
        names = detections.data.get("class_name", np.full(len(detections), ""))
        names = [str(n) or DEFAULT_CLASS for n in names]
        new = [n for n in dict.fromkeys(names) if n not in self.classes]
        if new:
            self.classes.extend(new)
            if self.format == "yolo":
                self._write_data_yaml()
        detections.class_id = np.array([self.classes.index(n) for n in names], dtype=int)
        return detections, outlines

    def _write_data_yaml(self) -> None:
        data = {"train": "images", "val": "images", "nc": len(self.classes), "names": self.classes}
        self._replace(self.directory / "data.yaml", yaml.safe_dump(data, sort_keys=False))

    def _replace(self, path: Path, content: str | np.ndarray) -> None:
        """Write a text or an image file atomically, so a reader sees the old file or the new one, never a part:
        first under a hidden name in the dataset folder, outside every folder a loader lists, then renamed."""
        tmp = self.directory / f".partial{path.suffix}"  # the suffix tells OpenCV the image format
        if isinstance(content, str):
            tmp.write_text(content)
        elif not cv2.imwrite(str(tmp), content):
            raise DatasetError(f"cannot write image {path}")
        os.replace(tmp, path)
