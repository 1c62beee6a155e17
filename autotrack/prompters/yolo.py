"""YoloPrompter: boxes from any ultralytics YOLO detect or segment model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import numpy as np
import supervision as sv

from autotrack.device import resolve_device, ultralytics_device
from autotrack.prompters.base import Prompter, PrompterError, configured_copy
from autotrack.quiet import quiet_ultralytics
from autotrack.weights import resolve_detector


def _coco_names() -> dict[int, str]:
    from ultralytics.utils import YAML
    from ultralytics.utils.checks import check_yaml

    return YAML.load(check_yaml("coco.yaml"))["names"]


def resolve_classes(classes: list[str | int] | None, names: dict[int, str]) -> list[int] | None:
    """Class names or ids -> ids the model knows; a clear error for an unknown one."""
    if not classes:
        return None
    by_name = {name.lower(): index for index, name in names.items()}
    ids = []
    for item in classes:
        key = str(item).strip().lower()
        if key.isdigit() and int(key) in names:
            ids.append(int(key))
        elif key in by_name:
            ids.append(by_name[key])
        else:
            known = ", ".join(names.values())
            raise PrompterError(f"unknown class {item!r}; the detector knows: {known}")
    return ids


class YoloPrompter(Prompter):
    """Detect objects with YOLO every `every` frames.

    `set_classes` changes the classes kept while frames are processed, from any thread; the change applies from the
    next frame on, and the detector runs on that frame even when `every` would skip it. `reset` goes back to the
    classes it was built with.

    Args:
        weights: a YOLO file (`yolo11n.pt`, a path; ultralytics downloads known names on first use) or "random" for
            the yolo11n architecture with random weights (detects nothing; for smoke runs and benchmarks).
        classes: class names or ids to keep (None keeps all).
        conf: minimum detection confidence.
        imgsz: detector input size.
        every: run on every n-th frame only (returns None on the others).
        device: "auto" (CUDA, then MPS, then the CPU), "cpu", "cuda", "cuda:1", "mps". On CUDA the detector runs
            in half precision (ultralytics' `quantize=16`).
        exported: an export of the weights that ultralytics runs instead, on OpenVINO or ONNX Runtime (a path from
            `autotrack.runtimes.detector.exported_detector`); None runs the weights in PyTorch.
    """

    random_yaml = "yolo11n.yaml"  # the architecture of `weights="random"`

    def __init__(
        self,
        weights: str = "yolo11n.pt",
        classes: list[str | int] | None = None,
        conf: float = 0.25,
        imgsz: int = 640,
        every: int = 1,
        device: str = "auto",
        exported: str | None = None,
    ) -> None:
        from ultralytics import YOLO

        if every < 1:
            raise PrompterError(f"every must be >= 1, got {every}")
        self.device = ultralytics_device(device)
        try:
            self.model = YOLO(exported or self.model_file(weights))
            if exported is not None:  # ultralytics loads an exported model on its first detection: do it now
                with quiet_ultralytics():
                    self.model.predict(np.zeros((imgsz, imgsz, 3), np.uint8), imgsz=imgsz, device=self.device,
                                       verbose=False)
        except Exception as error:  # ultralytics raises several types for missing or bad files
            raise PrompterError(f"cannot load detector {weights!r}: {str(error).strip().splitlines()[0]}") from error
        self.names = _coco_names() if weights == "random" else dict(self.model.names)
        self.classes = self._initial_classes = resolve_classes(classes, self.names)
        self.conf = conf
        self.imgsz = imgsz
        self.every = every
        # None: full precision; an exported model's precision is its runtime's
        self.quantize = 16 if resolve_device(device).type == "cuda" and exported is None else None
        self._lock = threading.Lock()
        self._change: Callable[[], None] | None = None  # what set_classes prepared, to apply before the next call
        self._changed = False  # the classes changed since the last detection: detect on the next frame

    @classmethod
    def model_file(cls, weights: str) -> str:
        """What ultralytics' `YOLO` loads for `weights`: the architecture's yaml for "random", else the file or name
        (`autotrack.weights.resolve_detector`)."""
        return cls.random_yaml if weights == "random" else resolve_detector(weights)

    def reset(self) -> None:
        """Keep the classes it was built with again, and forget a change not applied yet."""
        with self._lock:
            self._change = None
        self._changed = False
        self._keep_classes(self._initial_classes)

    def session(self, **settings: object) -> YoloPrompter:
        """A prompter on the same loaded model for one more video or stream, with its own classes and schedule: as
        this one was built, or as `settings` say (all of the constructor's arguments but the weights and device, as
        a detector config gives them). Sessions share the model: one thread runs them, one call at a time."""
        prompter = configured_copy(self, settings)
        prompter._lock = threading.Lock()  # its own: a change of one stream's classes never waits on another's
        return prompter

    def _configure(self, classes: list[str | int] | None, conf: float, imgsz: int, every: int,
                   text: str | list[str] | None = None) -> None:
        """A session's own settings (see `session`); `text` is always None here (a closed-set YOLO reads none)."""
        if every < 1:
            raise PrompterError(f"every must be >= 1, got {every}")
        self._initial_classes = resolve_classes(classes, self.names)
        self.conf, self.imgsz, self.every = conf, imgsz, every

    def set_classes(self, classes: list[str | int] | None) -> None:
        """Keep only these classes (names or ids; None keeps all) from the next frame on. Thread-safe."""
        self._apply_before_next_frame(partial(self._keep_classes, resolve_classes(classes, self.names)))

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        with self._lock:
            change, self._change = self._change, None
        if change is not None:
            change()
            self._changed = True
        if frame_index % self.every and not self._changed:
            return None
        self._changed = False
        return self._detect(frame)

    def _apply_before_next_frame(self, change: Callable[[], None]) -> None:
        """Hand over a change of classes prepared in the caller's thread; the next call makes it before it detects,
        so a detection never sees half of it. A later change replaces one not made yet."""
        with self._lock:
            self._change = change

    def _keep_classes(self, classes: list[int] | None) -> None:
        """Keep only these class ids (None: all) from now on."""
        self.classes = classes

    def _detect(self, frame: np.ndarray) -> sv.Detections:
        result = self.model.predict(
            frame, conf=self.conf, imgsz=self.imgsz, classes=self.classes, device=self.device, quantize=self.quantize,
            verbose=False,
        )[0]
        detections = sv.Detections.from_ultralytics(result)
        detections.mask = None  # SAM2 segments; the detector only proposes boxes
        detections.data["class_name"] = np.array([self.names[int(c)] for c in detections.class_id], dtype=str)
        return detections
