"""Sam3Prompter: SAM 3's concept detector (transformers' `Sam3Model`, or `Sam3LiteTextModel`) finds every object a
text names or that looks like an example box.

SAM 3's checkpoint holds the detector beside the tracker (`autotrack.models.sam3`); the detector reads class names
with its CLIP text encoder, and its DETR decoder answers 200 queries per prompt with a box and a score (the query's
match times the prompt's presence in the image). Text features are computed once per class list, when the list is
set, and every prompt is answered by one batched decoder pass per frame on one image-encoder pass.

An example box (`--like`) is a visual exemplar: SAM 3's geometry encoder encodes the box with the image features of
the frame it is on, after the text "visual" (what transformers' processor gives a prompt of boxes alone). The
encoding is kept and answered on every later frame, as Meta's video predictor shares one visual prompt embedding
for all frames. Prompts of different lengths (32 text tokens, plus an example's box and class tokens) are padded and
masked to one batch.

Frames are resized to the model's square input (stretched, as transformers' processor does), or letterboxed as the
tracker's engine does when the two share SAM 3's trunk (`share_trunk`: the ViT then runs once per frame for both);
boxes come back in frame pixels, clipped to the frame. Class ids are the names' first positions among the prompts (text names, then
examples' class names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import supervision as sv
import torch
import torch.nn.functional as F
from transformers.modeling_outputs import BaseModelOutputWithPooling

from autotrack.device import resolve_device
from autotrack.engine.image import letterbox
from autotrack.models.sam3 import PIXEL_MEAN, PIXEL_STD
from autotrack.prompters.base import Prompter, PrompterError, configured_copy
from autotrack.prompters.yoloe import CLASSES_REFUSED, EXAMPLE_NAME, parse_text
from autotrack.weights import resolve_weights

if TYPE_CHECKING:
    from autotrack.prompters.manual import Example

TEXT_TOKENS = 32  # SAM 3's text encoder reads 32 tokens
VISUAL_TEXT = "visual"  # the text of a prompt of boxes alone (transformers' Sam3Processor)


@dataclass
class Prompts:
    """Prompts the decoder answers together, one per row: a class name each, prompt features (N, L, C) and their
    token masks (N, L)."""

    names: list[str]
    features: torch.Tensor
    mask: torch.Tensor


def combine(groups: list[Prompts]) -> Prompts | None:
    """The groups' prompts as one batch, shorter ones padded with masked tokens; None when there are none."""
    groups = [group for group in groups if group.names]
    if not groups:
        return None
    length = max(group.mask.shape[1] for group in groups)
    return Prompts([name for group in groups for name in group.names],
                   torch.cat([F.pad(g.features, (0, 0, 0, length - g.features.shape[1])) for g in groups]),
                   torch.cat([F.pad(g.mask, (0, length - g.mask.shape[1])) for g in groups]))


class Sam3Prompter(Prompter):
    """Detect the objects that `text` names, or that look like given examples, with SAM 3's concept detector.

    Args:
        weights: a SAM 3 transformers checkpoint folder (facebook/sam3's layout, with its tokenizer files; or a SAM 3
            LiteText detector's); None finds the `sam3` model's folder (`autotrack.weights`).
        text: class names, a list or one string separated by commas; None to start without names (examples only).
        conf: keep detections whose score (match x presence) is above this.
        imgsz: the detector's square input size, a multiple of 14 (trained at 1008).
        every: detect on every `every`-th frame only (None on the others).
        device: "auto", "cpu", "cuda", ...
    """

    def __init__(self, weights: str | Path | None = None, text: str | list[str] | None = None, conf: float = 0.3,
                 imgsz: int = 1008, every: int = 1, device: str = "auto") -> None:
        from transformers import AutoModel, AutoTokenizer

        from autotrack.models.sam3.build import detector_config
        from autotrack.models.sam3.trunk import last_frame_trunk

        path = resolve_weights("sam3", weights)
        self.device = resolve_device(device)
        self.model = AutoModel.from_pretrained(path, config=detector_config(path, imgsz)).eval().to(
            self.device)  # `Sam3Model`, or `Sam3LiteTextModel` for a SAM 3 LiteText checkpoint
        self.trunk = last_frame_trunk(self.model.vision_encoder)  # an example's frame is encoded once
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.conf, self.imgsz, self.every = conf, imgsz, every
        self.letterbox = False  # True once it shares the tracker's trunk (`share_trunk`)
        self._mean = torch.tensor(PIXEL_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(PIXEL_STD, device=self.device).view(1, 3, 1, 1)
        self._encoded: dict[tuple[str, ...], Prompts] = {}  # text features by class list
        self._initial = self._encode(parse_text(text) if text is not None else [])
        self._classes = self._initial
        self._examples: list[Prompts] = []
        self._detect_next = False

    def reset(self) -> None:
        """Find the class names it was built with again, without examples."""
        self._classes = self._initial
        self._examples = []
        self._detect_next = False

    def session(self, **settings: object) -> Sam3Prompter:
        """A prompter on the same loaded model for one more video or stream, with its own names, examples and
        schedule: as this one was built, or as `settings` say (a detector config but its weights). Sessions share
        the model and the names encoded so far; one thread runs them, one call at a time."""
        return configured_copy(self, settings)

    def _configure(self, classes: list[str | int] | None, conf: float, imgsz: int, every: int,
                   text: str | list[str] | None = None) -> None:
        """A session's own settings (see `session`); the input size is the model's (it is built for one)."""
        if classes:
            raise PrompterError(CLASSES_REFUSED)
        if imgsz != self.imgsz:
            raise PrompterError(f"this SAM 3 detector was built for imgsz {self.imgsz}, not {imgsz}")
        if every < 1:
            raise PrompterError(f"every must be >= 1, got {every}")
        self.conf, self.every = conf, every
        self._initial = self._encode(parse_text(text) if text is not None else [])

    def set_classes(self, classes: list[str] | str | None) -> None:
        """Find these names (None or [] for none) instead from the next frame on; examples stay. Encoded here, in the
        caller's thread (one assignment hands them over, so frames never see half a change)."""
        self._classes = self._encode(parse_text(classes) if classes else [])
        self._detect_next = True  # the new names are looked for on the next frame, whatever `every` says

    def share_trunk(self, tracker: torch.nn.Module) -> None:
        """Run SAM 3's ViT trunk once per frame for this detector and `tracker` (a `Sam3TrackerVideoModel` loaded
        from the same checkpoint at the same input size, on the same device): the tracker reads this detector's
        trunk, and frames are letterboxed as the tracker's engine letterboxes them, so that both give the trunk the
        same pixels."""
        from autotrack.models.sam3.trunk import share_trunk

        share_trunk(self.model, tracker)
        self.letterbox = True

    @torch.inference_mode()
    def add_examples(self, frame: np.ndarray, examples: list[Example]) -> None:
        """Also find every object that looks like these examples (boxes on `frame`), from this frame on: each box is
        encoded with `frame`'s image features, once."""
        pixels, scale = self._pixels(frame)
        vision = self.model.get_vision_features(pixels)
        visual = self._encode([VISUAL_TEXT])
        for example in examples:
            x1, y1, x2, y2 = torch.tensor(np.asarray(example.box, np.float32) / scale, device=self.device)
            box = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]).view(1, 1, 4)  # cx, cy, w, h in 0-1
            ones = torch.ones(1, 1, dtype=torch.long, device=self.device)
            geometry = self.model.geometry_encoder(box_embeddings=box, box_mask=ones.bool(), box_labels=ones,
                                                   img_feats=vision.fpn_hidden_states[:-1],
                                                   img_pos_embeds=vision.fpn_position_encoding[:-1])
            self._examples = [*self._examples, Prompts(
                [example.class_name or EXAMPLE_NAME], torch.cat([visual.features, geometry.last_hidden_state], 1),
                torch.cat([visual.mask, geometry.attention_mask.to(visual.mask.dtype)], 1))]
        self._detect_next = True

    @torch.inference_mode()
    def _encode(self, names: list[str]) -> Prompts:
        """Names -> their prompts (the text encoder's projected features (N, 32, C) and token mask (N, 32)),
        computed once per class list."""
        key = tuple(names)
        if key not in self._encoded and names:
            tokens = self.tokenizer(names, padding="max_length", max_length=TEXT_TOKENS, truncation=True,
                                    return_tensors="pt").to(self.device)
            features = self.model.get_text_features(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
            self._encoded[key] = Prompts(names, features.pooler_output, tokens.attention_mask)
        return self._encoded.get(key, Prompts([], None, None))

    def _pixels(self, frame: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """The frame as the model's normalised input (1, 3, S, S), and the frame pixels its unit square spans (x, y,
        x, y), which scale boxes in 0-1 back to the frame."""
        height, width = frame.shape[:2]
        if self.letterbox:  # as `autotrack.engine.engine.EngineSession._encode_image`, to the bit
            square, scale = letterbox(frame, self.imgsz), np.full(4, max(height, width), np.float32)
        else:
            square = cv2.resize(frame, (self.imgsz, self.imgsz), interpolation=cv2.INTER_LINEAR)
            scale = np.array([width, height, width, height], np.float32)
        image = torch.from_numpy(np.ascontiguousarray(square[..., ::-1].transpose(2, 0, 1))).to(self.device)
        return (image[None].float() - self._mean) / self._std, scale

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        if frame_index % self.every and not self._detect_next:
            return None
        self._detect_next = False
        prompts = combine([self._classes, *self._examples])
        if prompts is None:
            return sv.Detections.empty()
        pixels, scale = self._pixels(frame)
        vision = self.model.get_vision_features(pixels)
        count = len(prompts.names)
        vision.fpn_hidden_states = [x.expand(count, -1, -1, -1) for x in vision.fpn_hidden_states]
        vision.fpn_position_encoding = [x.expand(count, -1, -1, -1) for x in vision.fpn_position_encoding]
        out = self.model(vision_embeds=vision, text_embeds=BaseModelOutputWithPooling(pooler_output=prompts.features),
                         attention_mask=prompts.mask)
        found = detections(out.pred_boxes, out.pred_logits, out.presence_logits, self.conf, scale, prompts.names)
        found.xyxy = sv.clip_boxes(found.xyxy, frame.shape[1::-1])  # a letterbox's padding is not in the frame
        return found[found.area > 0]


def detections(boxes: torch.Tensor, logits: torch.Tensor, presence: torch.Tensor, conf: float, scale: np.ndarray,
               names: list[str]) -> sv.Detections:
    """SAM 3's answers for N prompts, boxes (N, Q, 4) xyxy in 0-1 and match logits (N, Q) and presence logits
    (N, 1), as detections in frame pixels (`scale`: the frame pixels of the unit square, x, y, x, y): score =
    sigmoid(match) x sigmoid(presence), kept above `conf`; the class id of a name is its first position in `names`."""
    scores = logits.sigmoid() * presence.sigmoid()
    prompt, query = torch.nonzero(scores > conf, as_tuple=True)
    xyxy = boxes[prompt, query].float().cpu().numpy() * scale
    class_name = np.array([names[i] for i in prompt.cpu().numpy()], dtype=object)
    return sv.Detections(xyxy=xyxy.reshape(-1, 4), confidence=scores[prompt, query].float().cpu().numpy(),
                         class_id=np.array([names.index(name) for name in class_name], dtype=int),
                         data={"class_name": class_name})
