"""The per-frame stages of any family's `ModelParts` as `torch.nn.Module`s with tensor inputs and outputs, the form
graph exporters take; built from the `ModelParts` interface alone, so export needs nothing of a family but its parts.

Six graphs: the image encoder; memory attention; the mask decoder (with the prompt encoder) with 3 candidate masks
and with 1; the memory encoder for masks from tracking and for prompted ones (binarised). The number of objects B,
of memory frames F, of pointer tokens P and of prompt points N are dynamic axes. Everything else of a frame
(memory selection, temporal encodings, object pointers, Kalman scoring) stays in the Python engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autotrack.engine.parts import ImageFeatures, ModelParts

STAGES = ("image_encoder", "memory_attention", "decoder", "decoder_single", "memory_encoder",
          "memory_encoder_prompt")


class _Stage(torch.nn.Module):
    """A stage of `parts`; the family's modules are registered so exporters see their weights as parameters."""

    def __init__(self, parts: ModelParts) -> None:
        super().__init__()
        self.model = parts.model
        self.parts = parts


def _features(vision: torch.Tensor, pos: torch.Tensor, high_res: list[torch.Tensor],
              size: tuple[int, int]) -> ImageFeatures:
    return ImageFeatures(vision, pos, high_res, size)


class ImageEncoder(_Stage):
    """image (1, 3, S, S) -> vision (L, 1, C), pos (L, 1, C), then the finer levels for the mask decoder."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = self.parts.encode_image(image)
        return (features.vision, features.pos, *features.high_res)


class MemoryAttention(_Stage):
    """The frame's vision and pos (L, 1, C), each object's memory frames (F*T, B, mem_dim) and pointer tokens
    (P, B, mem_dim) with their position encodings -> conditioned features (B, C, h, w)."""

    def __init__(self, parts: ModelParts, size: tuple[int, int], frame_tokens: int) -> None:
        super().__init__(parts)
        self.size = size
        self.frame_tokens = frame_tokens

    def forward(self, vision, pos, memory, memory_pos, pointers, pointer_pos) -> torch.Tensor:
        features = _features(vision, pos, [], self.size)
        return self.parts.attend(features, torch.cat([memory, pointers]), torch.cat([memory_pos, pointer_pos]),
                                 memory.shape[0] // self.frame_tokens, pointers.shape[0])


class Decoder(_Stage):
    """Conditioned features (B, C, h, w), the frame's finer levels (batch 1), points (B, N, 2) and labels (B, N)
    -> masks (B, M, 4h, 4w), ious (B, M), tokens (B, M, C), object score (B, 1); M = 3 or 1 (`multimask`)."""

    def __init__(self, parts: ModelParts, multimask: bool) -> None:
        super().__init__(parts)
        self.multimask = multimask

    def forward(self, pixels, high_res_0, high_res_1, points, labels) -> tuple[torch.Tensor, ...]:
        batch = pixels.shape[0]
        high_res = [high_res_0.expand(batch, -1, -1, -1), high_res_1.expand(batch, -1, -1, -1)]
        heads = self.parts.decode(pixels, high_res, points, labels, self.multimask)
        return heads.masks, heads.ious, heads.tokens, heads.object_score


class MemoryEncoder(_Stage):
    """The frame's features as an image (1, C, h, w), mask logits (B, 1, S, S) and object scores (B, 1) -> memory
    tokens (B, T, mem_dim); prompted masks (`from_prompt`) are binarised first."""

    def __init__(self, parts: ModelParts, from_prompt: bool) -> None:
        super().__init__(parts)
        self.from_prompt = from_prompt

    def forward(self, pixels, masks, object_score) -> torch.Tensor:
        # the frame's features repeated for each object: OpenVINO's CPU plugin fuses a batch-1 convolution with the
        # sum over the batch that follows it, and then fails on more than one object
        vision = pixels.expand(masks.shape[0], -1, -1, -1).flatten(2).permute(2, 0, 1)
        features = _features(vision, vision, [], tuple(pixels.shape[-2:]))
        return self.parts.encode_memory(features, masks, object_score, self.from_prompt)


@dataclass
class StageSpec:
    """One graph to export: its module, example inputs, input and output names, and dynamic axes by input name."""

    module: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic: dict[str, dict[int, str]]
    strict: bool = False  # trace with TorchDynamo: needed where the code turns a dynamic size into a Python int


OBJECTS, MEMORY, POINTERS, POINTS = "objects", "memory_tokens", "pointers", "points"


@torch.inference_mode()
def stage_specs(parts: ModelParts, imgsz: int) -> dict[str, StageSpec]:
    """Every stage of `parts` (float32, on the CPU) with example inputs made by running the stages once in torch,
    which also fills the parts' caches that depend only on the input size."""
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, imgsz, imgsz, generator=generator)
    features = parts.encode_image(image)
    vision, pos, high_res = features.vision, features.pos, features.high_res
    pixels = features.pixels()
    objects = 2
    masks = 4 * torch.randn(objects, 1, imgsz, imgsz, generator=generator)
    scores = torch.tensor([[1.0], [-1.0]])
    tokens = parts.encode_memory(features, masks, scores, False)  # (B, T, mem_dim)
    frame_tokens = tokens.shape[1]
    memory = tokens.transpose(0, 1).repeat(2, 1, 1)  # 2 frames
    memory_pos = parts.memory_position(torch.tensor([0, 1])).repeat(2, 1, 1)
    pointer_inputs = torch.randn(3, objects, parts.hidden_dim, generator=generator)
    pointers, pointer_pos = parts.pointer_memory(pointer_inputs, torch.tensor([[1.0, 2.0, 3.0]] * objects))
    conditioned = parts.attend(features, torch.cat([memory, pointers]), torch.cat([memory_pos, pointer_pos]), 2,
                               pointers.shape[0])
    points = torch.tensor([[[10.0, 20.0], [imgsz / 2, imgsz / 2]]] * objects)
    labels = torch.tensor([[2, 3]] * objects, dtype=torch.int32)
    image_outputs = ("vision", "pos", *(f"high_res_{i}" for i in range(len(high_res))))
    decoder_inputs = ("pixels", "high_res_0", "high_res_1", "points", "labels")
    decoder_dynamic = {"pixels": {0: OBJECTS}, "points": {0: OBJECTS, 1: POINTS}, "labels": {0: OBJECTS, 1: POINTS}}
    memory_dynamic = {"masks": {0: OBJECTS}, "object_score": {0: OBJECTS}}
    decoder_args = (conditioned, *high_res, points, labels)
    memory_args = (pixels, masks, scores)
    return {
        "image_encoder": StageSpec(ImageEncoder(parts), (image,), ("image",), image_outputs, {}),
        "memory_attention": StageSpec(
            MemoryAttention(parts, features.size, frame_tokens),
            (vision, pos, memory, memory_pos, pointers, pointer_pos),
            ("vision", "pos", "memory", "memory_pos", "pointers", "pointer_pos"), ("conditioned",),
            {"memory": {0: MEMORY, 1: OBJECTS}, "memory_pos": {0: MEMORY, 1: OBJECTS},
             "pointers": {0: POINTERS, 1: OBJECTS}, "pointer_pos": {0: POINTERS, 1: OBJECTS}},
        ),
        "decoder": StageSpec(Decoder(parts, True), decoder_args, decoder_inputs,
                             ("masks", "ious", "tokens", "object_score"), decoder_dynamic, strict=True),
        "decoder_single": StageSpec(Decoder(parts, False), decoder_args, decoder_inputs,
                                    ("masks", "ious", "tokens", "object_score"), decoder_dynamic, strict=True),
        "memory_encoder": StageSpec(MemoryEncoder(parts, False), memory_args, ("pixels", "masks", "object_score"),
                                    ("tokens",), memory_dynamic),
        "memory_encoder_prompt": StageSpec(MemoryEncoder(parts, True), memory_args,
                                           ("pixels", "masks", "object_score"), ("tokens",), memory_dynamic),
    }
