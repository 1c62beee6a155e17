"""Sam3Prompter: SAM 3's concept detector (transformers' `Sam3Model`) finds every object a text names.

SAM 3's checkpoint holds the detector beside the tracker (`autotrack.models.sam3`); the detector reads class names
with its CLIP text encoder, and its DETR decoder answers 200 queries per name with a box and a score (the query's
match times the name's presence in the image). Text features are computed once per class list, when the list is
set, and every name of the list is answered by one batched decoder pass per frame on one image-encoder pass.
Frames are resized to the model's square input (stretched, as transformers' processor does); boxes come back in
frame pixels. Class ids are the names' positions in the class list.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import supervision as sv
import torch

from autotrack.device import resolve_device
from autotrack.prompters.base import Prompter
from autotrack.prompters.yoloe import parse_text
from autotrack.weights import resolve_weights

TEXT_TOKENS = 32  # SAM 3's text encoder reads 32 tokens


class Sam3Prompter(Prompter):
    """Detect the objects that `text` names with SAM 3's concept detector.

    Args:
        weights: a SAM 3 transformers checkpoint folder (facebook/sam3's layout, with its tokenizer files); None
            finds the `sam3` model's folder (`autotrack.weights`).
        text: class names, a list or one string separated by commas.
        conf: keep detections whose score (match x presence) is above this.
        imgsz: the detector's square input size, a multiple of 14 (trained at 1008).
        every: detect on every `every`-th frame only (None on the others).
        device: "auto", "cpu", "cuda", ...
    """

    def __init__(self, weights: str | Path | None = None, text: str | list[str] | None = None, conf: float = 0.3,
                 imgsz: int = 1008, every: int = 1, device: str = "auto") -> None:
        from transformers import AutoTokenizer, Sam3Model

        from autotrack.models.sam3.build import detector_config

        path = resolve_weights("sam3", weights)
        self.device = resolve_device(device)
        self.model = Sam3Model.from_pretrained(path, config=detector_config(path, imgsz)).eval().to(self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.conf, self.imgsz, self.every = conf, imgsz, every
        self._encoded: dict[tuple[str, ...], tuple] = {}  # text features by class list
        self._initial = self._encode(parse_text(text))
        self._classes = self._initial

    def reset(self) -> None:
        """Find the class names it was built with again."""
        self._classes = self._initial

    def set_classes(self, classes: list[str] | str | None) -> None:
        """Find these names instead from the next frame on; encoded here, in the caller's thread (one assignment
        hands them over, so frames never see half a change)."""
        self._classes = self._encode(parse_text(classes))

    @torch.inference_mode()
    def _encode(self, names: list[str]) -> tuple[list[str], object, torch.Tensor]:
        """Names -> (names, the text encoder's output (its `pooler_output`: features (N, L, C)), their token mask
        (N, L)), computed once per class list."""
        key = tuple(names)
        if key not in self._encoded:
            tokens = self.tokenizer(names, padding="max_length", max_length=TEXT_TOKENS, truncation=True,
                                    return_tensors="pt").to(self.device)
            features = self.model.get_text_features(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
            self._encoded[key] = (names, features, tokens.attention_mask)
        return self._encoded[key]

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        if frame_index % self.every:
            return None
        names, features, mask = self._classes
        square = cv2.resize(frame, (self.imgsz, self.imgsz), interpolation=cv2.INTER_LINEAR)[..., ::-1]
        pixels = torch.from_numpy(np.ascontiguousarray(square)).to(self.device).permute(2, 0, 1)[None].float()
        vision = self.model.get_vision_features((pixels / 127.5 - 1.0))  # mean = std = 0.5 on 0-1 pixels
        vision.fpn_hidden_states = [x.expand(len(names), -1, -1, -1) for x in vision.fpn_hidden_states]
        vision.fpn_position_encoding = [x.expand(len(names), -1, -1, -1) for x in vision.fpn_position_encoding]
        out = self.model(vision_embeds=vision, text_embeds=features, attention_mask=mask)
        return detections(out.pred_boxes, out.pred_logits, out.presence_logits, self.conf, frame.shape[:2], names)


def detections(boxes: torch.Tensor, logits: torch.Tensor, presence: torch.Tensor, conf: float,
               shape: tuple[int, int], names: list[str]) -> sv.Detections:
    """SAM 3's answers for N names, boxes (N, Q, 4) xyxy in 0-1 and match logits (N, Q) and presence logits (N, 1),
    as detections in frame pixels: score = sigmoid(match) x sigmoid(presence), kept above `conf`."""
    scores = logits.sigmoid() * presence.sigmoid()
    name_index, query = torch.nonzero(scores > conf, as_tuple=True)
    height, width = shape
    xyxy = boxes[name_index, query].float().cpu().numpy() * np.array([width, height, width, height], np.float32)
    class_id = name_index.cpu().numpy()
    return sv.Detections(xyxy=xyxy.reshape(-1, 4), confidence=scores[name_index, query].float().cpu().numpy(),
                         class_id=class_id, data={"class_name": np.array([names[i] for i in class_id], dtype=object)})
