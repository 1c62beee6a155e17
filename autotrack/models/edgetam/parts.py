"""EdgeTAM's parts for the streaming engine: the modules of transformers' `EdgeTamVideoModel`, driven one by one.

Against SAM2, two parts change: the image encoder is timm's RepViT-M1 (re-parameterised here: its training-time
branches and batch norms fold into single convolutions, which run in channels-last layout), and the memory encoder
ends in a perceiver that compresses each frame's 64-channel memory map into 256 global and 16x16 spatial tokens.
Memory entries are stored in that compressed form, so memory attention reads 512 tokens per frame at any input
size, and an object's memory is small (at 1024 px, 512 tokens instead of SAM2's 4,096).

Private transformers calls relied on (transformers 5.24, the pinned 5.23-6 range): `EdgeTamVideoModel.
_use_mask_as_output` (mask prompts) and `EdgeTamVideoPerceiverResampler._forward_1d` (`perceive`). The parts it
shares with SAM 3 are in `autotrack.models.transformers_parts`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.utils.model import reparameterize_model

from autotrack.engine.parts import ImageFeatures
from autotrack.models.transformers_parts import TransformersSAMParts


class EdgeTAMParts(TransformersSAMParts):
    """`ModelParts` of EdgeTAM (see `autotrack.engine.parts`)."""

    def __init__(self, model) -> None:
        backbone = model.vision_encoder.backbone
        backbone.timm_model = reparameterize_model(backbone.timm_model, inplace=True)
        model.vision_encoder.to(memory_format=torch.channels_last)
        super().__init__(model)

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """`EdgeTamVideoModel.get_image_features`, its neck without position encodings (`image_features`)."""
        backbone = self.model.vision_encoder.backbone
        stages = backbone(image.contiguous(memory_format=torch.channels_last)).last_hidden_state
        return self.image_features(self._neck(stages))

    def _neck(self, stages: list[torch.Tensor]) -> list[torch.Tensor]:
        """`EdgeTamVisionNeck.forward` without position encodings: the FPN levels the model uses, finest first."""
        neck = self.model.vision_encoder.neck
        n = len(neck.convs) - 1
        levels = []
        for i in range(n, -1, -1):
            lateral = neck.convs[n - i](stages[i])
            if i not in neck.fpn_top_down_levels or i == n:
                previous = lateral
            else:
                top_down = F.interpolate(previous.float(), scale_factor=2.0, mode="nearest")
                previous = lateral + top_down.to(lateral.dtype)
            levels.append(previous)
        return levels[-self.model.vision_encoder.num_feature_levels :][::-1]

    def pointer_encoding(self, distances: torch.Tensor) -> torch.Tensor:
        # EdgeTAM gives object pointers no temporal encoding (its official config: add_tpos_enc_to_obj_ptrs false)
        batch, num = distances.shape
        return distances.new_zeros(num, batch, self.mem_dim)

    def key_rotation(self, x: torch.Tensor, num_frames: int) -> dict:
        # EdgeTAM's keys have their own positions (the perceiver's 16x16 grid), repeated over the memory frames
        attention = self.model.memory_attention
        return {"position_embeddings_k": attention.rotary_emb(x, attention.position_ids_k), "rope_k_repeat": num_frames}

    def feed_forward(self, layer, x: torch.Tensor) -> torch.Tensor:
        return layer.mlp(x)

    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        out = self.model._use_mask_as_output(features.pixels().float(), features.high_res, mask)
        return out.pred_masks, out.object_pointer.view(1, -1), out.object_score_logits

    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> torch.Tensor:
        """transformers' `_encode_new_memory` for a batch of objects: prompted masks binarised, others through a
        sigmoid, then scaled; the memory encoder with the frame's features projected once for the batch (they are
        the same for every object); then the perceiver (`perceive`)."""
        model, config = self.model, self.model.config
        mask_for_memory = (masks > 0).to(masks.dtype) if from_prompt else masks.sigmoid()
        mask_for_memory = mask_for_memory * config.sigmoid_scale_for_mem_enc + config.sigmoid_bias_for_mem_enc
        encoder = model.memory_encoder  # its forward, with the image projected once for the batch
        maps = encoder.feature_projection(features.pixels()) + encoder.mask_downsampler(mask_for_memory)
        maps = encoder.projection(encoder.memory_fuser(maps))
        map_pos = encoder.position_encoding((1, *maps.shape[1:]), maps.device, torch.float32)
        tokens, pos = perceive(model.spatial_perceiver, maps, map_pos.to(maps.dtype))
        if self._memory_pos is None:
            self._memory_pos = pos
        return tokens


def perceive(perceiver, maps: torch.Tensor, map_pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' `EdgeTamVideoPerceiverResampler.forward` for a batch of memory maps (B, C, H, W) and their
    position encoding (1, C, H, W): (B, 512, C) tokens (256 global latents, then a 16x16 grid of latents each pooled
    from its window of the map) and their (512, 1, C) position encoding (none for the global ones, a sine grid for
    the others), the same for every map.

    Written out because transformers' 2D branch takes its latents as a view, which fails for more than one map; the
    grid's position encoding is computed in float32 (the engine keeps it: it never changes).
    """
    batch, channels, height, width = maps.shape
    grid = math.isqrt(perceiver.num_latents_2d)
    window = height // grid
    global_latents, global_pos = perceiver._forward_1d(maps, map_pos.expand(batch, -1, -1, -1))
    windows = maps.permute(0, 2, 3, 1).reshape(batch, grid, window, grid, window, channels)
    windows = windows.permute(0, 1, 3, 2, 4, 5).reshape(batch * grid * grid, window * window, channels)
    latents = perceiver.latents_2d.expand(batch, -1, -1).reshape(-1, 1, channels)
    for layer in perceiver.layers:
        latents = layer(latents, windows, positional_encoding=None)
    grid_latents = perceiver.layer_norm(latents.reshape(batch, grid * grid, channels))
    grid_pos = perceiver.positional_encoding((1, channels, grid, grid), maps.device, torch.float32)
    grid_pos = grid_pos.flatten(2).transpose(1, 2)
    pos = torch.cat([global_pos[:1].float(), grid_pos], dim=1)[0, :, None]
    return torch.cat([global_latents, grid_latents], dim=1), pos

