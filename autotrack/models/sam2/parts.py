"""SAM2's parts for the streaming engine: the modules of ultralytics' `SAM2Model`, driven one by one.

Private ultralytics call relied on (ultralytics 8.4.190, the pinned 8.4 range): `SAM2Model._use_mask_as_output`
(mask prompts). The modules it drives list their own.
"""

from __future__ import annotations

import torch
from ultralytics.models.sam.modules.sam import SAM2Model
from ultralytics.models.sam.modules.utils import get_1d_sine_pe

from autotrack.engine.memory import MAX_OBJ_PTRS
from autotrack.engine.parts import Heads, ImageFeatures
from autotrack.models.common import SAMParts
from autotrack.models.sam2.image_encoder import SAM2ImageEncoder
from autotrack.models.sam2.memory_attention import attend_to_memory
from autotrack.models.sam2.memory_encoder import encode_memory, memory_position


class SAM2Parts(SAMParts):
    """`ModelParts` of a SAM2 or SAM2.1 model (see `autotrack.engine.parts`)."""

    def __init__(self, model: SAM2Model, imgsz: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        model.set_imgsz((imgsz, imgsz))
        self.model = model
        # in bf16, the image encoder and memory attention run in it outright, weights cast once, outside autocast
        # (see SAM2ImageEncoder's docstring for why); fp16 stays under autocast
        self._outright = dtype if dtype == torch.bfloat16 else None
        if self._outright is not None:
            model.memory_attention.to(self._outright)
        self._encode = SAM2ImageEncoder(model, self._outright)
        self._attend = attend_to_memory
        self.hidden_dim = model.hidden_dim
        self.mem_dim = model.mem_dim
        self.num_maskmem = model.num_maskmem

    def compile(self) -> None:
        self._encode = torch.compile(self._encode.__call__)
        self._attend = torch.compile(attend_to_memory, dynamic=True)  # memory length changes from frame to frame

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        levels, pos = self._encode(image)
        high_res = [x.float() for x in levels[-self.model.num_feature_levels : -1]]
        last = levels[-1]
        return ImageFeatures(last.flatten(2).permute(2, 0, 1), pos.flatten(2).permute(2, 0, 1), high_res,
                             tuple(last.shape[-2:]))

    def no_memory(self, features: ImageFeatures) -> torch.Tensor:
        # SAM2 on an initial conditioning frame: the no-memory embedding added directly
        return (features.vision + self.model.no_mem_embed).permute(1, 2, 0).view(1, -1, *features.size)

    def temporal_table(self) -> torch.Tensor:
        return self.model.maskmem_tpos_enc.view(self.num_maskmem, -1)

    def pointer_encoding(self, distances: torch.Tensor) -> torch.Tensor:
        model = self.model
        tpos_dim = model.hidden_dim if model.proj_tpos_enc_in_obj_ptrs else model.mem_dim
        pos = get_1d_sine_pe(distances / (MAX_OBJ_PTRS - 1), dim=tpos_dim)
        return model.obj_ptr_tpos_proj(pos).transpose(0, 1)

    def attend(self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_frames: int,
               num_pointer_tokens: int) -> torch.Tensor:
        inputs = (features.vision, features.pos, memory, memory_pos)
        if self._outright is None:
            pixels = self._attend(self.model.memory_attention, *inputs, num_pointer_tokens)
        else:
            with torch.autocast(memory.device.type, enabled=False):
                inputs = [x.to(self._outright) for x in inputs]
                pixels = self._attend(self.model.memory_attention, *inputs, num_pointer_tokens)
        return pixels.permute(1, 2, 0).view(memory.shape[1], -1, *features.size)

    def decode(self, pixels: torch.Tensor, high_res: list[torch.Tensor], points: torch.Tensor,
               labels: torch.Tensor, multimask: bool) -> Heads:
        model = self.model
        sparse, dense = model.sam_prompt_encoder(points=(points, labels), boxes=None, masks=None)
        masks, ious, tokens, object_score = model.sam_mask_decoder(
            image_embeddings=pixels,
            image_pe=model.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=False,
            high_res_features=high_res,
        )
        return Heads(masks, ious, tokens, object_score)

    def object_pointer(self, tokens: torch.Tensor, object_score: torch.Tensor) -> torch.Tensor:
        model = self.model
        pointer = model.obj_ptr_proj(tokens)
        if not model.pred_obj_scores:
            return pointer
        appearing = object_score.sigmoid() if model.soft_no_obj_ptr else (object_score > 0).to(pointer.dtype)
        if model.fixed_no_obj_ptr:
            pointer = appearing * pointer
        return pointer + (1 - appearing) * model.no_obj_ptr

    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        low_res, _, _, _, _, pointer, object_score = self.model._use_mask_as_output(
            mask, features.pixels().float(), features.high_res
        )
        return low_res, pointer, object_score

    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> torch.Tensor:
        maps = encode_memory(self.model, features.pixels(), masks, object_score, from_prompt)  # image projected once
        if self._memory_pos is None:
            self._memory_pos = memory_position(self.model, maps).flatten(2).permute(2, 0, 1)
        return maps.flatten(2).transpose(1, 2)
