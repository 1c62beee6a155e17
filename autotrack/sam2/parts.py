"""The model-specific parts of the streaming engine, behind one small interface.

SAM2 (ultralytics' `SAM2Model`) and EdgeTAM (transformers' `EdgeTamVideoModel`) share one design: an image encoder,
memory attention from the current frame to a few encoded past frames and object pointers, SAM's prompt encoder
and mask decoder, and a memory encoder. They differ in how each part computes (EdgeTAM: a RepViT image encoder,
memory frames compressed to 512 tokens by a perceiver, RoPE over those tokens). The engine
(`autotrack.sam2.engine.SAM2Tracker`) owns everything else, once for every model: the frame loop, batching of
objects, prompts, memory stores and their selection, the choice among candidate masks, the outputs.

    parts = load_parts("edgetam", "random", imgsz=512, device=torch.device("cpu"))
    features = parts.encode_image(image)                 # once per frame, shared by every object
    heads = parts.decode(parts.no_memory(features), features.high_res_batch(1), points, labels, multimask=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch


@dataclass
class ImageFeatures:
    """One frame's image encoding, shared by every object."""

    vision: torch.Tensor  # (h*w, 1, C): the lowest-resolution features, sequence first
    pos: torch.Tensor  # (h*w, 1, C): their position encoding
    high_res: list[torch.Tensor]  # [(1, C/8, 4h, 4w), (1, C/4, 2h, 2w)]: finer features for the mask decoder,
    # float32 as the decoder runs in float32 whatever the precision
    size: tuple[int, int]  # (h, w) of `vision`

    def pixels(self) -> torch.Tensor:
        """`vision` as an image, (1, C, h, w)."""
        return self.vision.permute(1, 2, 0).view(1, -1, *self.size)

    def high_res_batch(self, batch: int) -> list[torch.Tensor]:
        """`high_res` for a batch of objects (views, no copies)."""
        return [x.expand(batch, -1, -1, -1) for x in self.high_res]


@dataclass
class Heads:
    """The mask decoder's answer for a batch of objects: M candidate masks each (M = 3, or 1)."""

    masks: torch.Tensor  # (B, M, 4h, 4w) logits
    ious: torch.Tensor  # (B, M) predicted IoU of each candidate
    tokens: torch.Tensor  # (B, M, C) output token of each candidate (object pointers are made from these)
    object_score: torch.Tensor  # (B, 1) logit: is the object visible at all


class ModelParts(Protocol):
    """What the engine asks of a model family. B is the number of objects in a batch, C `hidden_dim`."""

    hidden_dim: int  # channels of image features and object pointers
    mem_dim: int  # channels of memory tokens (a pointer becomes hidden_dim // mem_dim tokens)

    def compile(self) -> None:
        """torch.compile, in place, the image encoder and memory attention."""

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """Image encoder on a (1, 3, S, S) normalised RGB image."""

    def no_memory(self, features: ImageFeatures) -> torch.Tensor:
        """(1, C, h, w) features of a frame an object is first prompted on: it has no memory yet."""

    def temporal_encoding(self, slots: torch.Tensor) -> torch.Tensor:
        """(B, mem_dim) learned encodings of memory slots (SAM2's index: num_maskmem - t_pos - 1)."""

    def pointer_encoding(self, distances: torch.Tensor) -> torch.Tensor:
        """(P, B, mem_dim) position encodings of object pointers `distances` (B, P) frames back."""

    def attend(self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_frames: int,
               num_pointer_tokens: int) -> torch.Tensor:
        """Memory attention: (B, C, h, w) features conditioned on each object's memory (tokens, B, mem_dim), which
        holds `num_frames` frames of equal token counts followed by `num_pointer_tokens` pointer tokens."""

    def decode(self, pixels: torch.Tensor, high_res: list[torch.Tensor], points: torch.Tensor,
               labels: torch.Tensor, multimask: bool) -> Heads:
        """Prompt encoder and mask decoder: points (B, N, 2) in input pixels, labels (B, N) (1 positive, 0
        negative, 2/3 box corners, -1 padding)."""

    def object_pointer(self, tokens: torch.Tensor, object_score: torch.Tensor) -> torch.Tensor:
        """(B, C) object pointers of the chosen candidates' tokens; the no-object pointer where none is seen."""

    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        """A (1, 1, S, S) binary mask prompt taken as the answer: (low-res logits, object pointer, object score)."""

    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Memory encoder on (B, 1, S, S) mask logits: (B, T, mem_dim) memory tokens per object, as they are
        stored (EdgeTAM: already compressed by its perceiver), and their (T, 1, mem_dim) position encoding, the
        same for every frame."""


def load_parts(model: str, weights: str | Path | None, imgsz: int, device: torch.device,
               dtype: torch.dtype = torch.float32) -> ModelParts:
    """Build model `model` (see `autotrack.weights.MODELS`) with its weights, on `device`, for inputs of `imgsz`, to
    compute in `dtype` (the engine runs the stages under autocast; a family may also cast parts of itself)."""
    from autotrack.weights import get_spec

    if get_spec(model).family == "edgetam":
        from autotrack.sam2.edgetam_build import build_edgetam
        from autotrack.sam2.edgetam_parts import EdgeTAMParts

        return EdgeTAMParts(build_edgetam(weights, imgsz).to(device))
    from autotrack.sam2.build import build_model
    from autotrack.sam2.sam2_parts import SAM2Parts

    return SAM2Parts(build_model(model, weights).to(device), imgsz, dtype)
