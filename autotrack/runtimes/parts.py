"""`ModelParts` whose heavy stages run from a runtime's compiled graphs: the image encoder, memory attention, the
mask decoder and the memory encoder. The cheap ones (no-memory features, position encodings of memory, object
pointers, mask prompts) are the family's own torch parts, so the engine's state and rules are the same for every
runtime."""

from __future__ import annotations

import math

import numpy as np
import torch

from autotrack.engine.engine import EngineModel
from autotrack.engine.parts import Heads, ImageFeatures, ModelParts
from autotrack.models.registry import family_of, motion_weight
from autotrack.runtimes.graphs import Graphs


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def _tensors(arrays: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(array) for array in arrays]


class GraphParts(ModelParts):
    """A family's torch `parts` (float32, CPU) with the heavy stages from `graphs`."""

    def __init__(self, parts: ModelParts, graphs: Graphs) -> None:
        self.parts = parts
        self.graphs = graphs
        self.model = parts.model
        self.hidden_dim = parts.hidden_dim
        self.mem_dim = parts.mem_dim
        self._primed = False

    def compile(self) -> None:
        """Nothing to do: the runtime compiled the graphs."""

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        vision, pos, *high_res = _tensors(self.graphs.run("image_encoder", _array(image)))
        side = math.isqrt(vision.shape[0])  # inputs are square
        return ImageFeatures(vision, pos, high_res, (side, side))

    def no_memory(self, features: ImageFeatures) -> torch.Tensor:
        return self.parts.no_memory(features)

    def memory_position(self, frames_back: torch.Tensor) -> torch.Tensor:
        return self.parts.memory_position(frames_back)

    def pointer_memory(self, pointers: torch.Tensor, distances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.parts.pointer_memory(pointers, distances)

    def attend(self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_frames: int,
               num_pointer_tokens: int) -> torch.Tensor:
        spatial = memory.shape[0] - num_pointer_tokens  # the graph takes memory frames and pointers apart
        inputs = (features.vision, features.pos, memory[:spatial], memory_pos[:spatial], memory[spatial:],
                  memory_pos[spatial:])
        return _tensors(self.graphs.run("memory_attention", *map(_array, inputs)))[0]

    def decode(self, pixels: torch.Tensor, high_res: list[torch.Tensor], points: torch.Tensor,
               labels: torch.Tensor, multimask: bool) -> Heads:
        stage = "decoder" if multimask else "decoder_single"
        inputs = (pixels, *(level[:1] for level in high_res), points.float(), labels.int())
        return Heads(*_tensors(self.graphs.run(stage, *map(_array, inputs))))

    def object_pointer(self, tokens: torch.Tensor, object_score: torch.Tensor) -> torch.Tensor:
        return self.parts.object_pointer(tokens, object_score)

    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        return self.parts.mask_as_output(mask, features)

    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> torch.Tensor:
        if not self._primed:  # the torch parts make the memory's position encoding on their first memory
            self.parts.encode_memory(features, masks[:1], object_score[:1], from_prompt)
            self._primed = True
        stage = "memory_encoder_prompt" if from_prompt else "memory_encoder"
        inputs = (features.pixels(), masks, object_score)
        return _tensors(self.graphs.run(stage, *map(_array, inputs)))[0]


def graph_engine(parts: ModelParts, graphs: Graphs, model: str, imgsz: int) -> EngineModel:
    """The engine of `model` at input size `imgsz` on `parts` (float32, on the CPU) with the heavy stages from
    `graphs`."""
    return EngineModel(GraphParts(parts, graphs), family_of(model), imgsz, torch.device("cpu"), "fp32",
                       motion_weight(model))
