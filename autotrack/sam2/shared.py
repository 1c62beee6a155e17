"""SAM2's memory attention and memory encoder for a batch of objects on one frame, with the work that depends only on
the frame done once for the whole batch instead of once per object.

Every object on a frame sees the same image features. Two computations of SAM2 depend on nothing else:
- the first memory-attention layer's self-attention (its input is the image features plus their position encoding;
  memory only enters in the cross-attention that follows);
- the memory encoder's projection of the image features (`pix_feat_proj`), to which each object's mask is added.
Both run here on the frame's features once, and their result is broadcast over the objects. The outputs are those
of `MemoryAttention.forward` and `SAM2Model._encode_new_memory` on the same inputs (tests/test_sam2_shared.py).
"""

from __future__ import annotations

import torch
from ultralytics.models.sam.modules.memory_attention import (
    MemoryAttention,
    MemoryAttentionLayer,
)
from ultralytics.models.sam.modules.sam import SAM2Model


def attend_to_memory(
    attention: MemoryAttention,
    image_features: torch.Tensor,
    image_pos: torch.Tensor,
    memory: torch.Tensor,
    memory_pos: torch.Tensor,
    num_obj_ptr_tokens: int,
) -> torch.Tensor:
    """Condition the frame's features on each object's memory: `MemoryAttention.forward` for a batch of objects.

    image_features, image_pos: (L, 1, C) the frame's lowest-resolution features and their position encoding.
    memory, memory_pos: (S, B, C_mem) each object's memory tokens; the last `num_obj_ptr_tokens` are object
    pointers (no rotary encoding). Returns (L, B, C).
    """
    batch = memory.shape[1]
    output = image_features + 0.1 * image_pos if attention.pos_enc_at_input else image_features
    # the layers work batch-first
    output, pos = output.transpose(0, 1), image_pos.transpose(0, 1)
    memory, memory_pos = memory.transpose(0, 1), memory_pos.transpose(0, 1)
    first, *others = attention.layers
    output = first._forward_sa(output, pos).expand(batch, -1, -1)  # once per frame: it sees no memory
    output = first._forward_ca(output, memory, pos, memory_pos, num_obj_ptr_tokens)
    output = _feed_forward(first, output)
    for layer in others:
        output = layer(output, memory, memory_pos, pos, num_k_exclude_rope=num_obj_ptr_tokens)
    return attention.norm(output).transpose(0, 1)


def _feed_forward(layer: MemoryAttentionLayer, x: torch.Tensor) -> torch.Tensor:
    """The MLP block that closes a memory-attention layer (after its self- and cross-attention)."""
    hidden = layer.dropout(layer.activation(layer.linear1(layer.norm3(x))))
    return x + layer.dropout3(layer.linear2(hidden))


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
