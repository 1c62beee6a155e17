"""COCO-style JSON sink with RLE masks that stays a valid, loadable file after every frame.

Why this layout: the file always ends with a short tail, `], "images": [...], "categories": [...]}`. Each frame
seeks back to where the tail starts and writes, in one write, the frame's annotations and then the new tail. So
the file is valid JSON after every frame (an interrupted run leaves a file pycocotools loads), annotations are
written once and never held in memory, and only the tail is rewritten. The tail grows by one image entry (about
90 bytes) per frame: fine for videos (under 1 MB at 10,000 frames); for endless live streams prefer MotSink.
The alternative, rewriting the whole file to a temporary file and `os.replace`-ing it every N frames, would keep
every annotation in memory and rewrite them all each time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import supervision as sv

from autotrack.sinks.base import Sink, visible
from autotrack.sinks.staging import commit, staging_path
from autotrack.types import FrameResult


def _dumps(value: object) -> str:
    from supervision.utils.file import (
        NumpyJsonEncoder,  # numpy numbers and arrays as JSON
    )

    return json.dumps(value, separators=(",", ":"), cls=NumpyJsonEncoder)


def coco_annotation(annotation_id: int, image_id: int, category_id: int, xyxy: np.ndarray, mask: np.ndarray | None,
                    segmentation: list[list[float]] | dict | None) -> dict:
    """A COCO annotation of one object: `iscrowd` 0 (one object, not a crowd region, which COCO's evaluators and
    trainers ignore), xywh `bbox` from `xyxy`, `area` the mask's pixels (the box's area without a mask) and
    `segmentation` when given."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    annotation = {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
        "area": int(mask.sum()) if mask is not None else round((x2 - x1) * (y2 - y1), 2),
        "iscrowd": 0,
    }
    if segmentation is not None:
        annotation["segmentation"] = segmentation
    return annotation


class CocoFile:
    """A COCO JSON file that is valid after every `add` (the layout in the module docstring); a file already at
    `path` is replaced at `close` (`autotrack.sinks.staging`)."""

    def __init__(self, path: str | Path, description: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._staging = staging_path(self.path)
        self._file = open(self._staging, "wb")
        self._file.write(f'{{"info":{_dumps({"description": description})},"annotations":[\n'.encode())
        self._tail_at = self._file.tell()
        self._images: list[str] = []
        self._categories: list[dict] = []
        self.n_annotations = 0
        self._write_from_tail("")

    def add(self, image: dict, annotations: list[dict], categories: list[dict]) -> None:
        """Append one image with its annotations; `categories` replace the file's list."""
        self._images.append(_dumps(image))
        self._categories = categories
        text = ",\n".join(_dumps(a) for a in annotations)
        if annotations and self.n_annotations:
            text = ",\n" + text
        self.n_annotations += len(annotations)
        self._write_from_tail(text)

    def _write_from_tail(self, annotations_text: str) -> None:
        """Overwrite the old tail with new annotations and the new tail, then flush."""
        tail = f'\n],"images":[{",".join(self._images)}],"categories":{_dumps(self._categories)}}}\n'
        data = annotations_text.encode()
        self._file.seek(self._tail_at)
        self._file.write(data + tail.encode())
        self._file.truncate()
        self._tail_at += len(data)
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
            commit(self._staging, self.path)


class CocoJsonSink(Sink):
    """Writes `images` (one per frame), `annotations` (one per visible object: track id, category, xywh bbox,
    area, score, COCO RLE `segmentation` with str counts, `iscrowd` 0) and `categories` (one per class name).

    Why RLE with `iscrowd` 0: this is a results file (every annotation has a `score`), and in COCO's results format
    an instance mask is RLE (pycocotools' `loadRes` reads it and sets `iscrowd` 0 on every result). RLE keeps the
    mask exact (holes, pieces, single pixels), which polygons do not, and `annToMask` decodes it whatever `iscrowd`
    says; `iscrowd` 1 would tell COCO's evaluators to treat each object as a crowd region to ignore. Training sets
    are `DatasetSink`'s job (polygons, the form COCO's ground truth gives a single object).

    Image ids are 1-based (`frame_index + 1`); `file_name` is `<frame_index:05d>.jpg` as in the DAVIS layout.
    A category is a class name (rows without one are "object", or "class <id>"): it keeps the detector's class id
    when the row has one that no other name took, else the next free id, so the ids are stable within a run.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = CocoFile(self.path, "autotrack results")
        self._categories: dict[str, int] = {}  # class name -> category id

    def write(self, result: FrameResult) -> None:
        height, width = result.frame.shape[:2]
        image_id = result.frame_index + 1
        image = {"id": image_id, "frame_index": result.frame_index, "width": width, "height": height,
                 "file_name": f"{result.frame_index:05d}.jpg"}
        annotations = self._annotations(visible(result.detections), image_id)
        categories = [{"id": i, "name": name} for name, i in sorted(self._categories.items(), key=lambda c: c[1])]
        self._file.add(image, annotations, categories)

    def _annotations(self, detections: sv.Detections, image_id: int) -> list[dict]:
        names = detections.data.get("class_name")
        annotations = []
        for i in range(len(detections)):
            class_id = int(detections.class_id[i]) if detections.class_id is not None else -1
            name = str(names[i]) if names is not None and names[i] else None
            category = self._category(class_id, name or ("object" if class_id < 0 else f"class {class_id}"))
            mask = detections.mask[i] if detections.mask is not None else None
            rle = None if mask is None else {"size": list(mask.shape), "counts": sv.mask_to_rle(mask, compressed=True)}
            annotation = coco_annotation(self._file.n_annotations + len(annotations) + 1, image_id, category,
                                         detections.xyxy[i], mask, rle)
            annotation["track_id"] = int(detections.tracker_id[i])
            confidence = detections.confidence
            annotation["score"] = round(float(confidence[i]), 4) if confidence is not None else 1.0
            annotations.append(annotation)
        return annotations

    def _category(self, class_id: int, name: str) -> int:
        """The category id of a class name, given the first time it is seen."""
        if name not in self._categories:
            taken = set(self._categories.values())
            free = class_id >= 0 and class_id not in taken
            self._categories[name] = class_id if free else max(taken, default=0) + 1
        return self._categories[name]

    def close(self) -> None:
        self._file.close()
