"""SAM 3's tracker parts for the streaming engine: the modules of transformers' `Sam3TrackerVideoModel`, driven one
by one.

The tracker is SAM 2.1's video model (memory attention with 2D rotary encoding, memory encoder, mask decoder, object
pointers with temporal encodings, an occlusion embedding in memory) on another image encoder: a ViT-L with 14-pixel
patches, windowed and global attention and rotary encoding, whose output grid (imgsz / 14) a neck turns into
features at 4, 2 and 1 times it (transformers' neck also makes a 0.5 level, which the tracker never reads: it is
not computed here). So low-resolution masks are imgsz / 3.5 pixels, and masks are resized to 16 times the grid
before the memory encoder's stride-16 downsampler, as transformers does.

Private transformers call relied on (transformers 5.24, the pinned 5.23-6 range): none; `get_1d_sine_pe` is a
module-level function of `modeling_sam3_tracker_video`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import get_1d_sine_pe

from autotrack.engine.memory import MAX_OBJ_PTRS
from autotrack.engine.parts import ImageFeatures
from autotrack.errors import InputError
from autotrack.models.transformers_parts import TransformersSAMParts

MASK_TO_MEMORY = 16  # the memory encoder's downsampler has stride 16: masks enter it at 16x the feature grid


class SAM3Parts(TransformersSAMParts):
    """`ModelParts` of SAM 3's tracker (see `autotrack.engine.parts`)."""

    def encode_image(self, image: torch.Tensor) -> ImageFeatures:
        """`Sam3TrackerVideoModel.get_image_features` without the neck's unused 0.5 level (and its position
        encodings: `image_features`)."""
        encoder = self.model.vision_encoder
        tokens = encoder.backbone(image).last_hidden_state  # (1, g*g, C)
        side = image.shape[-1] // encoder.config.backbone_config.patch_size
        grid = tokens.view(1, side, side, -1).permute(0, 3, 1, 2)
        return self.image_features([layer(grid) for layer in encoder.neck.fpn_layers[:-1]])  # scales 4, 2, 1

    def pointer_encoding(self, distances: torch.Tensor) -> torch.Tensor:
        """SAM 2.1's temporal encoding of object pointers: a sine encoding of the distance (in units of the
        pointer window, as transformers' streaming inference normalises it), projected to mem_dim."""
        pos = get_1d_sine_pe(distances / (MAX_OBJ_PTRS - 1), dim=self.hidden_dim)  # (B, P, C)
        return self.model.temporal_positional_encoding_projection_layer(pos).transpose(0, 1)

    def key_rotation(self, x: torch.Tensor, num_frames: int) -> dict:
        return {}  # the keys' rotation repeats the queries' over the memory frames, which have the frame's grid

    def feed_forward(self, layer, x: torch.Tensor) -> torch.Tensor:
        return layer.linear2(layer.activation(layer.linear1(x)))

    def mask_as_output(self, mask: torch.Tensor, features: ImageFeatures) -> tuple[torch.Tensor, ...]:
        """Not offered: transformers' SAM 3 tracker takes a mask at imgsz / 4 where its decoder reads imgsz / 3.5, so
        there is no reference to follow; a box or clicks prompt SAM 3."""
        raise InputError("SAM 3 takes a box or points as a prompt, not a mask alone")

    def encode_memory(self, features: ImageFeatures, masks: torch.Tensor, object_score: torch.Tensor,
                      from_prompt: bool) -> torch.Tensor:
        """transformers' `_encode_new_memory` for a batch of objects: masks resized to 16x the feature grid,
        prompted masks binarised, others through a sigmoid, then scaled; the memory encoder with the frame's
        features projected once for the batch (they are the same for every object); the occlusion embedding added
        where the object is not seen."""
        model, config = self.model, self.model.config
        size = tuple(MASK_TO_MEMORY * s for s in features.size)
        if masks.shape[-2:] != size:  # antialiased, as transformers downsamples them
            masks = F.interpolate(masks.float(), size=size, mode="bilinear", align_corners=False,
                                  antialias=True).to(masks.dtype)
        mask_for_memory = (masks > 0).to(masks.dtype) if from_prompt else masks.sigmoid()
        mask_for_memory = mask_for_memory * config.sigmoid_scale_for_mem_enc + config.sigmoid_bias_for_mem_enc
        encoder = model.memory_encoder  # its forward, with the image projected once for the batch
        maps = encoder.feature_projection(features.pixels()) + encoder.mask_downsampler(mask_for_memory)
        maps = encoder.projection(encoder.memory_fuser(maps))
        hidden = (object_score <= 0).to(maps.dtype)[:, :, None, None]  # (B, 1, 1, 1)
        maps = maps + hidden * model.occlusion_spatial_embedding_parameter[..., None, None]
        if self._memory_pos is None:
            pos = encoder.position_encoding((1, *maps.shape[1:]), maps.device, torch.float32)
            self._memory_pos = pos.flatten(2).permute(2, 0, 1)
        return maps.flatten(2).transpose(1, 2)
