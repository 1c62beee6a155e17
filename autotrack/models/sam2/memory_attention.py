"""SAM2's memory attention for a batch of objects on one frame: the forward of ultralytics' `MemoryAttention`, its
layers and their rotary attention, with the work that depends only on the frame done once and a faster attention
product on CPUs in reduced precision.

- The first layer's self-attention sees only the frame's image features, the same for every object: it runs once
  per frame and its result is broadcast over the objects. The memory's keys (memory + position encoding) are the
  same in every layer: they are summed once.
- Attention itself is `softmax(q k^T / sqrt(d)) v`. torch's fused CPU kernel computes it no faster in bf16 than in
  float32, while plain matrix products use the CPU's bf16 instructions; so on a CPU in bf16 or fp16 it runs as two
  products over blocks of queries (softmax in float32). Everywhere else, and always in float32, it is torch's
  `scaled_dot_product_attention`, as in ultralytics.
- With those two products, the cross-attention weighs the memory before projecting it: its values are a linear map
  of the memory, `v = m W^T + b`, and each row of attention weights sums to one, so `a v = (a m) W^T + b`. The second
  product then runs over the memory's 64 channels instead of the 256 of the values, and the projection runs on the
  frame's tokens instead of the memory's (7 frames of them per object).
- There too, the rotary encoding of queries and keys runs in place in the compute dtype (`rotate_`), not through
  float32 and complex copies.

In float32 the outputs are those of `MemoryAttention.forward` on the same inputs (tests/test_sam2_modules.py).

Private ultralytics calls relied on (ultralytics 8.4.190, the pinned 8.4 range): `RoPEAttention._separate_heads`,
`_recombine_heads`, `compute_cis` and `freqs_cis`.
"""

from __future__ import annotations

import math

import torch
from ultralytics.models.sam.modules.blocks import RoPEAttention
from ultralytics.models.sam.modules.memory_attention import (
    MemoryAttention,
    MemoryAttentionLayer,
)
from ultralytics.models.sam.modules.utils import apply_rotary_enc

from autotrack.engine.attention import rotate_, rotation_tables, runs_blocked, scaled_dot_product_attention


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
    x = image_features + 0.1 * image_pos if attention.pos_enc_at_input else image_features
    # the layers work batch-first
    x, pos = x.transpose(0, 1), image_pos.transpose(0, 1)
    memory, memory_pos = memory.transpose(0, 1), memory_pos.transpose(0, 1)
    keys = memory + memory_pos  # the cross-attention keys of every layer that adds the position (SAM2: all)
    for index, layer in enumerate(attention.layers):
        x = _self_attention(layer, x, pos)
        if index == 0:
            x = x.expand(batch, -1, -1)  # once per frame: no memory so far
        layer_keys = keys if layer.pos_enc_at_cross_attn_keys else memory
        x = _cross_attention(layer, x, pos, memory, layer_keys, num_obj_ptr_tokens)
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
    return attention.norm(x).transpose(0, 1)


def _self_attention(layer: MemoryAttentionLayer, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    normed = layer.norm1(x)
    q = normed + pos if layer.pos_enc_at_attn else normed
    return x + _rope_attention(layer.self_attn, q, q, normed)


def _cross_attention(layer: MemoryAttentionLayer, x: torch.Tensor, pos: torch.Tensor, memory: torch.Tensor,
                     keys: torch.Tensor, num_obj_ptr_tokens: int) -> torch.Tensor:
    normed = layer.norm2(x)
    q = normed + pos if layer.pos_enc_at_cross_attn_queries else normed
    return x + _rope_attention(layer.cross_attn_image, q, keys, memory, num_obj_ptr_tokens)


def _rope_attention(attn: RoPEAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                    num_k_exclude_rope: int = 0) -> torch.Tensor:
    """`RoPEAttention.forward`: projections, rotary encoding of the queries and of all keys but the last
    `num_k_exclude_rope` (the object pointers), attention, output projection."""
    q = attn._separate_heads(attn.q_proj(q), attn.num_heads)
    k = attn._separate_heads(attn.k_proj(k), attn.num_heads)
    blocked = runs_blocked(q)  # two matrix products, memory weighed first, rotation in place: see the docstring
    project = attn.v_proj
    weigh_first = blocked and project.in_features < project.out_features
    v = v[:, None] if weigh_first else attn._separate_heads(project(v), attn.num_heads)
    if attn.freqs_cis.shape[0] != q.shape[-2]:  # another feature size than the one the module was built for
        side = math.sqrt(q.shape[-2])
        attn.freqs_cis = attn.compute_cis(end_x=side, end_y=side)
    attn.freqs_cis = attn.freqs_cis.to(q.device)
    rotated = k.shape[-2] - num_k_exclude_rope
    if blocked or torch.compiler.is_exporting():  # graph formats hold no complex numbers
        cos, sin = rotation_tables(attn.freqs_cis, q.dtype)
        rotate_(q, cos, sin)
        rotate_(k[:, :, :rotated], cos, sin)
    else:
        q, k[:, :, :rotated] = apply_rotary_enc(q, k[:, :, :rotated], attn.freqs_cis, repeat_freqs_k=attn.rope_k_repeat)
    out = scaled_dot_product_attention(q, k, v)
    if weigh_first:  # (a m) W^T + b, head by head
        weight = project.weight.view(attn.num_heads, -1, project.in_features)
        out = out @ weight.transpose(1, 2) + project.bias.view(attn.num_heads, 1, -1)
    return attn.out_proj(attn._recombine_heads(out))
