"""What the SAM2-style families (SAM2, EdgeTAM) share: ImageNet pixel statistics, SAM's prompt encoding, memory
slots' temporal encodings and object pointers split into memory tokens."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from autotrack.engine.parts import ModelParts

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB on 0-255 pixels, as SAM2 and EdgeTAM were trained
IMAGENET_STD = (58.395, 57.12, 57.375)
RANDOM_OBJECT_SCORE_BIAS = 10.0  # random weights: the object-score head's last bias, so masks are not all blank
BOX_LABELS = (2, 3)  # SAM's labels of a box's top-left and bottom-right corners


def sam_prompt_tokens(box: np.ndarray | None, points: np.ndarray | None,
                      labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """SAM's prompt: a box becomes its two corners labelled 2 and 3, placed before any clicks (1 positive,
    0 negative), as SAM2's predictors encode boxes."""
    coords, kinds = [], []
    if box is not None:
        coords.append(np.asarray(box, np.float32).reshape(2, 2))
        kinds.append(np.array(BOX_LABELS, dtype=np.int32))
    if points is not None:
        coords.append(points)
        kinds.append(labels)
    return np.concatenate(coords), np.concatenate(kinds)


class SAMParts(ModelParts):
    """`ModelParts` of a SAM2-style model: memory in `num_maskmem` temporal slots, object pointers of `hidden_dim`
    channels split into `hidden_dim // mem_dim` memory tokens each."""

    num_maskmem: int = 7  # 1 conditioning + 6 recent frames

    def __init__(self) -> None:
        # (T, 1, mem_dim): a memory frame's spatial encoding, set by the first `encode_memory` (it depends only on
        # the input size)
        self._memory_pos: torch.Tensor | None = None

    @abstractmethod
    def temporal_table(self) -> torch.Tensor:
        """(num_maskmem, mem_dim) learned encodings of the memory slots."""

    @abstractmethod
    def pointer_encoding(self, distances: torch.Tensor) -> torch.Tensor:
        """(P, B, mem_dim) position encodings of object pointers `distances` (B, P) frames back."""

    def memory_position(self, frames_back: torch.Tensor) -> torch.Tensor:
        slots = self.num_maskmem - frames_back - 1  # SAM2's slot of an entry t frames back (t = 0: prompted)
        return self._memory_pos + self.temporal_table()[slots][None]

    def pointer_memory(self, pointers: torch.Tensor, distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pointers.shape[1]
        split = self.hidden_dim // self.mem_dim  # a pointer becomes `split` tokens of mem_dim
        tokens = pointers.reshape(-1, batch, split, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
        return tokens, self.pointer_encoding(distances).repeat_interleave(split, dim=0)
