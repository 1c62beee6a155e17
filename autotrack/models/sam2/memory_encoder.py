"""SAM2's memory encoder for a batch of objects on one frame, with the projection of the frame's image features
(the same for every object) computed once per frame instead of once per object.

The outputs are those of `SAM2Model._encode_new_memory` on the same inputs (tests/test_sam2_modules.py).

Private ultralytics call relied on (ultralytics 8.4.190, the pinned 8.4 range): `SAM2Model.
_apply_non_overlapping_constraints`.
"""

from __future__ import annotations

import torch
from ultralytics.models.sam.modules.sam import SAM2Model


def encode_memory(
    model: SAM2Model,
    image_features: torch.Tensor,
    masks: torch.Tensor,
    object_score_logits: torch.Tensor,
    is_mask_from_pts: bool,
) -> torch.Tensor:
    """Encode each object's mask with the frame's features into its memory: `SAM2Model._encode_new_memory`.

    image_features: (1, C, H, W) the frame's lowest-resolution features; masks: (B, 1, S, S) mask logits at the
    model's input size; object_score_logits: (B, 1). Returns the memory features (B, mem_dim, H, W); their position
    encoding is the same on every frame (`memory_position`).
    """
    encoder = model.memory_encoder
    if model.non_overlap_masks_for_mem_enc:
        masks = model._apply_non_overlapping_constraints(masks)
    if model.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts:
        masks = (masks > 0).to(image_features.dtype)
    else:
        masks = torch.sigmoid(masks)
    masks = masks * model.sigmoid_scale_for_mem_enc + model.sigmoid_bias_for_mem_enc
    features = encoder.pix_feat_proj(image_features)  # once per frame, broadcast over the objects
    features = encoder.out_proj(encoder.fuser(features + encoder.mask_downsampler(masks)))
    if model.no_obj_embed_spatial is not None:
        absent = (object_score_logits <= 0).to(features.dtype)
        features = features + absent[..., None, None] * model.no_obj_embed_spatial[..., None, None]
    return features


def memory_position(model: SAM2Model, memory_features: torch.Tensor) -> torch.Tensor:
    """The position encoding of memory features (1, mem_dim, H, W): it depends only on their size."""
    return model.memory_encoder.position_encoding(memory_features[:1]).to(memory_features.dtype)
