"""SAM2's image encoder on one frame: the forward of ultralytics' `ImageEncoder` (the Hiera trunk and the FPN
neck), with the work whose result depends only on the input size done once, and attention through the engine's
attention product.

- Hiera's position embedding is interpolated (bicubic) to the feature size on every forward, and the neck makes a
  sine position encoding for each of its four levels (copying the cached one each time: 64 MB at 1024 px). Both
  depend only on the size: they are kept per size, and only the lowest-resolution level's encoding is made, the
  one memory attention reads.
- Hiera's attention goes through `autotrack.engine.attention.scaled_dot_product_attention`, so on a CPU in reduced precision
  it runs as plain matrix products, which use the CPU's bf16 instructions (torch's fused kernel does not).

In float32 the outputs are those of `SAM2Model.forward_image` on the same input (tests/test_sam2_modules.py).

Private ultralytics calls relied on (ultralytics 8.4.190, the pinned 8.4 range): `Hiera._get_pos_embed`,
`MultiScaleBlock` and `MultiScaleAttention` internals (`do_pool`, `window_partition`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from ultralytics.models.sam.modules.blocks import (
    MultiScaleAttention,
    MultiScaleBlock,
    do_pool,
)
from ultralytics.models.sam.modules.encoders import Hiera
from ultralytics.models.sam.modules.sam import SAM2Model
from ultralytics.models.sam.modules.utils import window_partition, window_unpartition

from autotrack.engine.attention import scaled_dot_product_attention


class SAM2ImageEncoder:
    """Encode frames with a SAM2 model's image encoder, keeping the position encodings of each input size.

    With `dtype=torch.bfloat16` the encoder's weights are cast once and it runs in bf16 outright, outside autocast:
    under autocast every layer norm goes to float32 and back, and every copy moves twice the bytes, which made the
    encoder 10% slower on a CPU (SAM2.1-tiny, 512 px). bf16 has float32's range, so nothing overflows; fp16 does not
    and stays under autocast.
    """

    def __init__(self, model: SAM2Model, dtype: torch.dtype | None = None) -> None:
        self.model = model
        self.dtype = dtype
        if dtype is not None:
            for module in (model.image_encoder, model.sam_mask_decoder.conv_s0, model.sam_mask_decoder.conv_s1):
                module.to(dtype)
        self._trunk_pos: dict[tuple[int, int], torch.Tensor] = {}
        self._neck_pos: dict[tuple[int, int], torch.Tensor] = {}

    def __call__(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(1, 3, S, S) image -> the neck's levels (finest first, the two finest already projected for the mask
        decoder, as `SAM2Model.forward_image` does) and the position encoding of the last level."""
        if self.dtype is None:
            return self._encode(image)
        with torch.autocast(image.device.type, enabled=False):
            return self._encode(image.to(self.dtype))

    def _encode(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        model = self.model
        encoder = model.image_encoder
        levels = self._neck(self._trunk(image))
        if encoder.scalp > 0:
            levels = levels[: -encoder.scalp]
        if model.use_high_res_features_in_sam:
            levels[0] = model.sam_mask_decoder.conv_s0(levels[0])
            levels[1] = model.sam_mask_decoder.conv_s1(levels[1])
        last = levels[-1]
        size = tuple(last.shape[-2:])
        if size not in self._neck_pos:
            self._neck_pos[size] = encoder.neck.position_encoding(last[:1].float())
        return levels, self._neck_pos[size].to(last.dtype)

    def _trunk(self, image: torch.Tensor) -> list[torch.Tensor]:
        """`Hiera.forward` with the interpolated position embedding kept per size."""
        trunk: Hiera = self.model.image_encoder.trunk
        x = trunk.patch_embed(image)
        size = tuple(x.shape[1:3])
        if size not in self._trunk_pos:
            self._trunk_pos[size] = trunk._get_pos_embed(size)
        x = x + self._trunk_pos[size]
        outputs = []
        for index, block in enumerate(trunk.blocks):
            x = _block(block, x)
            if index == trunk.stage_ends[-1] or (index in trunk.stage_ends and trunk.return_interm_layers):
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs

    def _neck(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """`FpnNeck.forward` without the position encodings (made once per size, for the last level only)."""
        neck = self.model.image_encoder.neck
        out: list[torch.Tensor] = [None] * len(neck.convs)
        n = len(neck.convs) - 1
        previous = None
        for i in range(n, -1, -1):
            lateral = neck.convs[n - i](xs[i])
            if i in neck.fpn_top_down_levels and previous is not None:
                top_down = F.interpolate(
                    previous.to(dtype=xs[i].dtype), scale_factor=2.0, mode=neck.fpn_interp_model,
                    align_corners=None if neck.fpn_interp_model == "nearest" else False, antialias=False,
                )
                previous = lateral + top_down
                if neck.fuse_type == "avg":
                    previous /= 2
            else:
                previous = lateral
            out[i] = previous
        return out


def _block(block: MultiScaleBlock, x: torch.Tensor) -> torch.Tensor:
    """`MultiScaleBlock.forward` with `_attention` (drop path is the identity at inference)."""
    shortcut = x  # (B, H, W, C)
    x = block.norm1(x)
    if block.dim != block.dim_out:
        shortcut = do_pool(block.proj(x), block.pool)
    window_size = block.window_size
    if window_size > 0:
        height, width = x.shape[1], x.shape[2]
        x, pad_hw = window_partition(x, window_size)
    x = _attention(block.attn, x)
    if block.q_stride:  # the queries were pooled: the windows shrank
        window_size = block.window_size // block.q_stride[0]
        height, width = shortcut.shape[1:3]
        pad_h = (window_size - height % window_size) % window_size
        pad_w = (window_size - width % window_size) % window_size
        pad_hw = (height + pad_h, width + pad_w)
    if block.window_size > 0:
        x = window_unpartition(x, window_size, pad_hw, (height, width))
    x = shortcut + x
    return x + block.mlp(block.norm2(x))


def _attention(attn: MultiScaleAttention, x: torch.Tensor) -> torch.Tensor:
    """`MultiScaleAttention.forward` with the engine's attention product."""
    batch, height, width, _ = x.shape
    q, k, v = torch.unbind(attn.qkv(x).reshape(batch, height * width, 3, attn.num_heads, -1), 2)
    if attn.q_pool:
        q = do_pool(q.reshape(batch, height, width, -1), attn.q_pool)
        height, width = q.shape[1:3]
        q = q.reshape(batch, height * width, attn.num_heads, -1)
    x = scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return attn.proj(x.transpose(1, 2).reshape(batch, height, width, -1))
