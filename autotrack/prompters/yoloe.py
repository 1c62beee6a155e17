"""YoloePrompter: open-vocabulary detection with YOLOE (or YOLO-World): find objects by name or by example.

- Text prompts: class names ("forklift", "person in a hard hat") become embeddings through the model's text encoder
  (MobileCLIP for YOLOE, CLIP for YOLO-World) and the detector finds what they name.
- Visual prompts (YOLOE only): a box around an example object on a frame becomes an embedding of what it holds
  (YOLOE's spatial-aware visual prompt encoder), and the detector finds every object that looks like it.

The vocabulary is the text classes followed by the examples' classes: both are embeddings of one space, so a single
detector pass finds both. Class ids stay the same for the whole run: a name keeps the id it got when first used,
whatever the vocabulary becomes, so after a change the identity manager still matches every object to its own
detections (it never matches across classes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import supervision as sv

from autotrack.prompters.yolo import PrompterError, YoloPrompter

if TYPE_CHECKING:
    import torch

    from autotrack.prompters.manual import Example

TextEncoder = Callable[[list[str]], "torch.Tensor"]
"""Class names -> (1, N, D) text features, as the model's text encoder gives them (before YOLOE's text head)."""

Embedded = tuple[list[str], "torch.Tensor | None"]
"""Class names and their class embeddings (1, N, D) for the detection head; None when there are no names."""

EXAMPLE_NAME = "object"  # class name of an example given without one
CLASSES_REFUSED = ("classes filter a closed-set detector's classes; name what an open-vocabulary detector should "
                   "find with text (--text)")


def parse_text(text: str | list[str] | None) -> list[str]:
    """Class names from a text prompt, "forklift, person in a hard hat", or a list of names."""
    items = text.split(",") if isinstance(text, str) else list(text or [])
    names = [str(item).strip() for item in items if str(item).strip()]
    if not names:
        raise PrompterError(f"no class names in the text prompt {text!r}: give names separated by commas, "
                            f"e.g. \"forklift, person in a hard hat\"")
    return names


def is_open_vocabulary(weights: str) -> bool:
    """Whether a weights name is a YOLOE or YOLO-World model (ultralytics' naming: yoloe-*, yolov8*-world*)."""
    stem = Path(weights).stem.lower()
    return "yoloe" in stem or "world" in stem


@dataclass
class ModelVocabulary:
    """The class embeddings the shared model holds now (the tensor some session gave it), or None."""

    embeddings: torch.Tensor | None = None


class YoloePrompter(YoloPrompter):
    """Detect the objects that `text` names, or that look like given examples, with YOLOE or YOLO-World.

    `set_classes` replaces the text classes while frames are processed, from any thread: the names are encoded in
    the calling thread (a bad name or a missing text encoder raises there) and the detector uses them from the next
    frame on. `add_examples` adds visual prompts between frames. `reset` goes back to the `text` it was built with,
    without examples. Results carry `class_name` in `data`.

    Args:
        weights: a YOLOE or YOLO-World file or name (`yoloe-11s-seg.pt`, `yolov8s-worldv2.pt`; ultralytics
            downloads known names on first use), or "random" for the yoloe-11s-seg architecture with random weights.
        classes: not for this detector (it filters a closed-set model's classes); name the classes with `text`.
        conf, imgsz, every, device: as for `YoloPrompter`.
        text: class names, a list or one string separated by commas; None to start without text classes.
        text_encoder: names -> text features; None uses the model's own encoder (its weights file is looked for
            as `autotrack.weights.resolve_text_encoder` says).
    """

    random_yaml = "yoloe-11s-seg.yaml"

    def __init__(
        self,
        weights: str = "yoloe-11s-seg.pt",
        classes: list[str | int] | None = None,
        conf: float = 0.25,
        imgsz: int = 640,
        every: int = 1,
        device: str = "auto",
        text: str | list[str] | None = None,
        text_encoder: TextEncoder | None = None,
    ) -> None:
        from ultralytics.nn.tasks import WorldModel, YOLOEModel

        if classes:
            raise PrompterError(CLASSES_REFUSED)
        names = parse_text(text) if text is not None else []
        super().__init__(weights, None, conf, imgsz, every, device)
        if not isinstance(self.model.model, (YOLOEModel, WorldModel)):
            raise PrompterError(f"detector {weights!r} is not an open-vocabulary model (YOLOE or YOLO-World); "
                                f"use e.g. yoloe-11s-seg.pt")
        self.world = isinstance(self.model.model, WorldModel)
        self.names: dict[int, str] = {}  # every class name used in this run, by its id
        self._ids: dict[str, int] = {}
        self._text_encoder = text_encoder
        self._encoder_lock = threading.Lock()
        self._text: Embedded = ([], None)
        self._examples: Embedded = ([], None)
        self._vocabulary: list[str] = []
        self._embeddings: torch.Tensor | None = None  # the vocabulary's, (1, N, D)
        self._in_model = ModelVocabulary()  # shared with its sessions, like the model
        self._initial_text = self._encode_text(names) if names else self._text
        self._use_text(self._initial_text)

    def reset(self) -> None:
        """Find the text classes it was built with again, without examples; class ids start again from 0."""
        super().reset()
        self._examples = ([], None)
        self._ids, self.names = {}, {}
        self._use_text(self._initial_text)

    def _configure(self, classes: list[str | int] | None, conf: float, imgsz: int, every: int,
                   text: str | list[str] | None = None) -> None:
        """A session's own settings (see `session`): its text classes too."""
        if classes:
            raise PrompterError(CLASSES_REFUSED)
        super()._configure(None, conf, imgsz, every)
        names = parse_text(text) if text is not None else []
        if names != self._initial_text[0]:  # the same names keep their embeddings: nothing to encode
            self._initial_text = self._encode_text(names) if names else ([], None)

    def set_classes(self, classes: list[str] | str | None) -> None:
        """Find these classes (names, or one text "a, b"; None or [] for none) instead of the current text classes
        from the next frame on. Examples stay. Thread-safe."""
        names = parse_text(classes) if classes else []
        text = self._encode_text(names) if names else ([], None)
        self._apply_before_next_frame(partial(self._use_text, text))

    def add_examples(self, frame: np.ndarray, examples: list[Example]) -> None:
        """Also find every object that looks like these examples (boxes on `frame`), from this frame on. Call
        between frames, with the frame the boxes are on."""
        if self.world:
            raise PrompterError("YOLO-World finds objects by name only; use a YOLOE model to find objects like an "
                                "example")
        import torch

        embeddings = self._encode_boxes(frame, np.array([e.box for e in examples], dtype=np.float32))
        names, known = self._examples
        names = names + [e.class_name or EXAMPLE_NAME for e in examples]
        self._examples = names, embeddings if known is None else torch.cat([known, embeddings], dim=1)
        self._use_vocabulary()
        self._changed = True

    @property
    def vocabulary(self) -> list[str]:
        """The class names the detector looks for now: text classes, then examples."""
        return list(self._vocabulary)

    def _use_text(self, text: Embedded) -> None:
        """Find these text classes (names and embeddings), with the examples."""
        self._text = text
        self._use_vocabulary()

    def _use_vocabulary(self) -> None:
        """Look for the text and example classes from now on; the model gets them as it next detects."""
        import torch

        names = self._text[0] + self._examples[0]
        for name in names:
            if name not in self._ids:
                self._ids[name] = len(self._ids)
                self.names[self._ids[name]] = name
        self._vocabulary = names
        self._embeddings = torch.cat([e for _, e in (self._text, self._examples) if e is not None], dim=1) if names \
            else None

    def _give_model_vocabulary(self) -> None:
        """Give the model this prompter's classes with their embeddings, unless it holds them already: sessions
        share the model (`session`), and another may have given it theirs."""
        if self._in_model.embeddings is self._embeddings:
            return
        names, embeddings = self._vocabulary, self._embeddings
        if self.world:  # what YOLOWorld.set_classes does, with embeddings computed beforehand
            self.model.model.txt_feats = embeddings
            self.model.model.model[-1].nc = len(names)
            self.model.model.names = names
            self.model.predictor = None
        else:
            self.model.set_classes(names, embeddings)
        self._in_model.embeddings = embeddings

    def _detect(self, frame: np.ndarray) -> sv.Detections:
        if not self._vocabulary:
            return sv.Detections.empty()
        self._give_model_vocabulary()
        result = self.model.predict(frame, conf=self.conf, imgsz=self.imgsz, device=self.device, verbose=False)[0]
        detections = sv.Detections.from_ultralytics(result)
        detections.mask = None  # SAM2 segments from the box (see autotrack.identity: births)
        names = [self._vocabulary[int(c)] for c in detections.class_id]
        detections.class_id = np.array([self._ids[name] for name in names], dtype=int)
        detections.data["class_name"] = np.array(names, dtype=str)
        return detections

    def _encode_text(self, names: list[str]) -> Embedded:
        """Names and their class embeddings (1, N, D) for the detection head."""
        import torch

        with self._encoder_lock:
            encoder = self._text_encoder or self._model_text_encoder()
            features = encoder(names)
        parameter = next(self.model.model.parameters())
        with torch.no_grad():
            features = features.reshape(1, len(names), -1).to(parameter.device, parameter.dtype).clone()
            if self.world:
                return names, torch.nn.functional.normalize(features, dim=-1)
            return names, self.model.model.model[-1].get_tpe(features)

    def _model_text_encoder(self) -> TextEncoder:
        """The model's own text encoder, loaded once: YOLOE's MobileCLIP from a local or downloaded file."""
        model = self.model.model
        if self.world:  # ultralytics loads CLIP ViT-B/32 itself
            self._text_encoder = lambda names: model.get_text_pe(names, cache_clip_model=True)
            return self._text_encoder
        if getattr(model, "clip_model", None) is None:
            from autotrack.weights import resolve_text_encoder

            path = resolve_text_encoder(model.text_model)
            try:
                from ultralytics.nn.text_model import MobileCLIPTS
            except ImportError as error:
                raise PrompterError("YOLOE text prompts need ultralytics' CLIP tokenizer: pip install "
                                    "git+https://github.com/ultralytics/CLIP.git") from error
            model.clip_model = MobileCLIPTS(next(model.parameters()).device, weight=str(path))
        self._text_encoder = lambda names: model.get_text_pe(names, cache_clip_model=True, without_reprta=True)
        return self._text_encoder

    def _encode_boxes(self, frame: np.ndarray, boxes: np.ndarray) -> torch.Tensor:
        """Visual prompt embeddings (1, N, D) of the objects in `boxes` (xyxy pixels of `frame`), one per box."""
        from ultralytics.models.yolo.yoloe import (
            YOLOEVPDetectPredictor,
            YOLOEVPSegPredictor,
        )

        kind = YOLOEVPSegPredictor if self.model.task == "segment" else YOLOEVPDetectPredictor
        predictor = kind(overrides={"task": self.model.task, "mode": "predict", "imgsz": self.imgsz, "batch": 1,
                                    "save": False, "verbose": False, "device": self.device})
        predictor.set_prompts({"bboxes": boxes, "cls": np.arange(len(boxes))})
        predictor.setup_model(model=self.model.model, verbose=False)
        return predictor.get_vpe(frame)
