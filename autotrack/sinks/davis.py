"""DAVIS-layout mask sink: one palette PNG per frame whose pixel values are object indices (0 = background)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from autotrack.errors import InputError
from autotrack.sinks.base import Sink, class_names, visible
from autotrack.types import FrameResult


def davis_palette() -> np.ndarray:
    """The 256x3 uint8 palette of DAVIS (and PASCAL VOC) masks: index bits spread over the high bits of R, G, B."""
    index = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.uint8)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= (((index >> (3 * bit + channel)) & 1) << (7 - bit)).astype(np.uint8)
    return palette


def write_index_png(path: str | Path, labels: np.ndarray) -> None:
    """Write an HxW uint8 label map as a DAVIS palette PNG, atomically (temporary file, then os.replace)."""
    path = Path(path)
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8))
    image.putpalette(davis_palette().tobytes())
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG")
    os.replace(tmp, path)


class DavisPngSink(Sink):
    """Writes `<out_dir>/<frame_index:05d>.png` per frame. Tracker ids map to indices 1..255 in the order their
    masks first appear (`object_index` holds the map); where masks overlap, the later row wins. `objects.json`
    in the same folder, rewritten atomically when an object appears, gives each index its tracker id and class:
    `{"1": {"id": 7, "class": "cup"}, ...}`."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.object_index: dict[int, int] = {}
        self._objects: dict[str, dict] = {}

    def write(self, result: FrameResult) -> None:
        detections = visible(result.detections)
        labels = np.zeros(result.frame.shape[:2], dtype=np.uint8)
        if len(detections):
            if detections.mask is None:
                raise InputError("DavisPngSink needs detections with masks")
            for track_id, mask, name in zip(detections.tracker_id, detections.mask, class_names(detections)):
                if mask.any():
                    labels[mask] = self._index_of(int(track_id), name)
        write_index_png(self.out_dir / f"{result.frame_index:05d}.png", labels)

    def close(self) -> None:
        """Nothing to finish: every frame's PNG and `objects.json` are complete once written."""

    def _index_of(self, track_id: int, name: str) -> int:
        if track_id not in self.object_index:
            if len(self.object_index) == 255:
                raise InputError(f"DAVIS PNGs hold at most 255 objects; tracker id {track_id} would be the 256th")
            index = len(self.object_index) + 1
            self.object_index[track_id] = index
            self._objects[str(index)] = {"id": track_id, "class": name}
            tmp = self.out_dir / ".objects.json.tmp"
            tmp.write_text(json.dumps(self._objects, indent=1))
            os.replace(tmp, self.out_dir / "objects.json")
        return self.object_index[track_id]
