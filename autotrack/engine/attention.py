"""Attention kernels the model families share: softmax(q k^T / sqrt(d)) v and rotary encoding, computed in place
and as plain matrix products on a CPU in reduced precision.

torch's fused CPU attention kernel computes no faster in bf16 than in float32, while plain matrix products use the
CPU's bf16 instructions; so on a CPU in bf16 or fp16 attention runs as two products over blocks of queries (softmax
in float32). Everywhere else, and always in float32, it is torch's `scaled_dot_product_attention`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SCORES_PER_BLOCK = 2**23  # attention scores held at once by the blocked CPU product (32 MB in float32)


def rotation_tables(freqs_cis: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions, d) tables for `rotate_` from ultralytics' complex (positions, d / 2) rotary frequencies."""
    re, im = torch.view_as_real(freqs_cis).to(dtype).unbind(-1)
    return re.repeat_interleave(2, dim=-1), torch.stack((-im, im), dim=-1).flatten(-2)


def rotate_(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> None:
    """Rotary encoding in place, in x's dtype: each channel pair (a, b) of a token becomes (a cos - b sin,
    a sin + b cos), as `apply_rotary_enc` computes it in complex float32.

    x: (..., N, d) with N a multiple of the tables' positions: the rotations repeat, as for keys that hold several
    memory frames of the same positions. Three passes over x in its own dtype, where ultralytics' function makes
    float32 and complex copies and then the caller copies the result back; for reduced precision only.
    """
    swapped = x.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)  # (b, a) for each pair (a, b)
    x = x.unflatten(-2, (-1, cos.shape[0]))
    x.mul_(cos).addcmul_(swapped.unflatten(-2, (-1, cos.shape[0])), sin)


def runs_blocked(q: torch.Tensor) -> bool:
    """Whether attention on `q` runs as two matrix products over blocks of queries (CPU, reduced precision)."""
    return q.device.type == "cpu" and q.dtype != torch.float32


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v for (B, heads, L, d) queries and keys and (B, heads or 1, S, d_v) values; see the
    module's docstring for how."""
    if not runs_blocked(q):
        return F.scaled_dot_product_attention(q, k, v)
    q, keys = q * (q.shape[-1] ** -0.5), k.transpose(-2, -1).contiguous()  # once, not once per block
    rows = max(1, SCORES_PER_BLOCK // (q.shape[0] * q.shape[1] * k.shape[-2]))
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    for start in range(0, q.shape[-2], rows):
        scores = q[..., start : start + rows, :] @ keys
        out[..., start : start + rows, :] = torch.softmax(scores, dim=-1) @ v  # softmax computes in float32
    return out
