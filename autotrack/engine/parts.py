"""What the streaming engine asks of a model family: its parts, behind one small interface.

SAM2 (ultralytics' `SAM2Model`), EdgeTAM (transformers' `EdgeTamVideoModel`) and their kin share one design: an
image encoder, memory attention from the current frame to a few encoded past frames and object pointers, SAM's
prompt encoder and mask decoder, and a memory encoder. They differ in how each part computes. The engine
(`autotrack.engine.engine`) owns everything else, once for every model: the frame loop, batching of objects, prompts,
memory stores and their selection, the choice among candidate masks, the outputs. Families implement `ModelParts`
in `autotrack.models.<family>` and are found through `autotrack.models.registry`.

    features = parts.encode_image(image)                 # once per frame, shared by every object
    heads = parts.decode(parts.no_memory(features), features.high_res_batch(1), points, labels, multimask=True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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
        """`vision` as an image, (1, C, h, w) (B images for a `vision` of batch B)."""
        return self.vision.permute(1, 2, 0).reshape(self.vision.shape[1], -1, *self.size)

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


class ModelParts(ABC):
    """The per-frame stages of one loaded model. B is the number of objects in a batch, C `hidden_dim`.

    Parts are shared by every session (video or stream) of a process: they hold weights and caches that depend only
    on the input size, never per-object or per-video state.
    """

    hidden_dim: int  # channels of image features and object pointers
    mem_dim: int  # channels of memory tokens
    model: torch.nn.Module  # every weight the parts compute with (graph exports and their checksums read it)

    @abstractmethod
    def compile(self) -> None:
        """torch.compile, in place, the image encoder and memory attention."""

    @abstractmethod
    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """Image encoder on a (1, 3, S, S) normalised RGB image."""

    @abstractmethod
    def no_memory(self, features: ImageFeatures) -> torch.Tensor:
        """(1, C, h, w) features of a frame an object is first prompted on: it has no memory yet."""

    @abstractmethod
    def memory_position(self, frames_back: torch.Tensor) -> torch.Tensor:
        """(T, B, mem_dim) position encodings of one memory frame's tokens for B objects whose entries are
        `frames_back` (B,) frames old (0: a prompted frame, SAM2's conditioning slot); needs one `encode_memory`
        call before (the spatial part depends on the memory's size)."""

    @abstractmethod
    def pointer_memory(self, pointers: torch.Tensor, distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Object pointers (P, B, C) taken `distances` (B, P) frames back, as memory tokens (N, B, mem_dim) and
        their position encodings (N, B, mem_dim)."""

    @abstractmethod
    def attend(self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_frames: int,
               num_pointer_tokens: int) -> torch.Tensor:
        """Memory attention: (B, C, h, w) features conditioned on each object's memory (tokens, B, mem_dim), which
        holds `num_frames` frames of equal token counts followed by `num_pointer_tokens` pointer tokens."""

    @abstractmethod
    def decode(self, pixels: torch.Tensor, high_res: list[torch.Tensor], points: torch.Tensor,
               labels: torch.Tensor, multimask: bool) -> Heads:
        """Prompt encoder and mask decoder: points (B, N, 2) in input pixels, labels (B, N) as the family's
        `prompt_tokens` made them (-1: padding)."""

    @abstractmethod
    def object_pointer(self, tokens: torch.Tensor, object_score: torch.Tensor) -> torch.Tensor:
        """(B, C) object pointers of the chosen candidates' tokens; the no-object pointer where none is seen."""

    @abstractmethod
    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        """A (1, 1, S, S) binary mask prompt taken as the answer: (low-res logits, object pointer, object score)."""

    @abstractmethod
    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> torch.Tensor:
        """Memory encoder on (B, 1, S, S) mask logits: (B, T, mem_dim) memory tokens per object, as they are stored
        (EdgeTAM: already compressed by its perceiver)."""
