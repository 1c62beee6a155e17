"""What the families built from transformers' SAM2-video modules (EdgeTAM, SAM 3) share: the prompt encoder and
mask decoder, object pointers, the no-memory embedding and the memory slots' temporal table have the same names and
calls in both; the image encoder, memory attention and memory encoder differ and stay in each family's parts.

Our attention function is registered with transformers' `AttentionInterface` when parts are built, not on import.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from autotrack.engine.attention import scaled_dot_product_attention
from autotrack.engine.parts import Heads, ImageFeatures
from autotrack.models.common import SAMParts

ATTENTION = "autotrack"  # the name of `attention` among transformers' attention functions


class TransformersSAMParts(SAMParts):
    """`ModelParts` over a transformers SAM2-video-style model (`EdgeTamVideoModel`, `Sam3TrackerVideoModel`): the
    parts their modules compute alike. Every attention of the model runs through `attention`."""

    def __init__(self, model) -> None:
        super().__init__()
        AttentionInterface.register(ATTENTION, attention)
        model.set_attn_implementation({"": ATTENTION})  # the decoder runs in fp32 whatever the precision
        self.model = model
        self.hidden_dim = model.hidden_dim
        self.mem_dim = model.mem_dim
        self.num_maskmem = model.num_maskmem
        self._image_pe = model.get_image_wide_positional_embeddings()  # (1, C, h, w), fixed
        self._positions: dict[tuple[int, int], torch.Tensor] = {}  # the neck's position encoding per feature size

    def compile(self) -> None:
        self.model.vision_encoder.compile()
        for layer in self.model.memory_attention.layers:  # memory length changes from frame to frame
            layer.self_attn.compile(dynamic=True)
            layer.cross_attn_image.compile(dynamic=True)

    def image_features(self, levels: list[torch.Tensor]) -> ImageFeatures:
        """The frame's features from the neck's levels the model uses, finest first, as `get_image_features` makes
        them: the two finer levels projected for the mask decoder; the position encoding made once per size and
        only for the level memory attention reads (transformers rebuilds it for every level on every frame)."""
        model = self.model
        levels[0] = model.mask_decoder.conv_s0(levels[0])
        levels[1] = model.mask_decoder.conv_s1(levels[1])
        last = levels[-1]
        size = tuple(last.shape[-2:])
        if size not in self._positions:
            self._positions[size] = model.vision_encoder.neck.position_encoding(last.shape, last.device, torch.float32)
        pos = self._positions[size].to(last.dtype).flatten(2).permute(2, 0, 1)
        return ImageFeatures(last.flatten(2).permute(2, 0, 1), pos, [x.float() for x in levels[:-1]], size)

    def no_memory(self, features: ImageFeatures) -> torch.Tensor:
        return (features.vision + self.model.no_memory_embedding).permute(1, 2, 0).view(1, -1, *features.size)

    def temporal_table(self) -> torch.Tensor:
        return self.model.memory_temporal_positional_encoding.view(self.num_maskmem, -1)

    def decode(self, pixels: torch.Tensor, high_res: list[torch.Tensor], points: torch.Tensor,
               labels: torch.Tensor, multimask: bool) -> Heads:
        model = self.model
        batch = len(pixels)
        sparse, dense = model.prompt_encoder(
            input_points=points[:, None], input_labels=labels[:, None], input_boxes=None, input_masks=None
        )
        masks, ious, tokens, object_score = model.mask_decoder(
            image_embeddings=pixels,
            image_positional_embeddings=self._image_pe.expand(batch, -1, -1, -1),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            high_resolution_features=high_res,
        )  # one prompt per image: drop transformers' prompt-batch axis
        return Heads(masks[:, 0], ious[:, 0], tokens[:, 0], object_score[:, 0])

    def attend(self, features: ImageFeatures, memory: torch.Tensor, memory_pos: torch.Tensor, num_frames: int,
               num_pointer_tokens: int) -> torch.Tensor:
        """transformers' memory attention forward (`EdgeTamVideoMemoryAttention`, `Sam3TrackerVideoMemoryAttention`)
        for a batch of objects, with the work that depends only on the frame done once, as
        `autotrack.models.sam2.memory_attention.attend_to_memory` does for SAM2: the first layer's self-attention (it
        sees only the frame's features) and the keys (memory + position, the same in every layer). Dropout is left
        out: the model is in eval mode. How the cross-attention's keys are rotated and how the feed-forward is
        called differ by family (`key_rotation`, `feed_forward`)."""
        attention = self.model.memory_attention
        batch = memory.shape[1]
        x = (features.vision + 0.1 * features.pos).transpose(0, 1)[:, None]  # (1, 1, h*w, C), batch first
        memory = memory.transpose(0, 1)[:, None]  # (B, 1, M, mem_dim)
        keys = memory + memory_pos.transpose(0, 1)[:, None]
        rope = attention.rotary_emb(x, attention.position_ids)
        rotation = self.key_rotation(x, num_frames)
        for index, layer in enumerate(attention.layers):
            normed = layer.layer_norm1(x)
            x = x + layer.self_attn(query=normed, key=normed, value=normed, position_embeddings=rope)[0]
            if index == 0:
                x = x.expand(batch, -1, -1, -1)  # once per frame: no memory so far
            cross, _ = layer.cross_attn_image(query=layer.layer_norm2(x), key=keys, value=memory,
                                              position_embeddings=rope, num_k_exclude_rope=num_pointer_tokens,
                                              **rotation)
            x = x + cross
            x = x + self.feed_forward(layer, layer.layer_norm3(x))
        pixels = attention.layer_norm(x)[:, 0]  # (B, h*w, C)
        return pixels.transpose(1, 2).reshape(batch, -1, *features.size)

    @abstractmethod
    def key_rotation(self, x: torch.Tensor, num_frames: int) -> dict:
        """The memory attention's cross-attention arguments that rotate its keys, beyond the queries' encoding, for
        queries `x` and `num_frames` memory frames."""

    @abstractmethod
    def feed_forward(self, layer, x: torch.Tensor) -> torch.Tensor:
        """A memory attention layer's feed-forward network on `x` (normed)."""

    def object_pointer(self, tokens: torch.Tensor, object_score: torch.Tensor) -> torch.Tensor:
        appearing = (object_score > 0).to(tokens.dtype)
        pointer = appearing * self.model.object_pointer_proj(tokens)
        return pointer + (1 - appearing) * self.model.no_object_pointer


def attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
              attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
              **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' attention function interface, computed as the SAM2 engine computes attention
    (`autotrack.engine.attention.scaled_dot_product_attention`: on a CPU in bf16 or fp16, products over blocks
    of queries, which use the CPU's bf16 instructions where torch's fused kernel does not; elsewhere torch's kernel).
    Masked or otherwise scaled attention, which these models do not use, goes to transformers' own function."""
    if attention_mask is not None or dropout or (scaling is not None and scaling != query.shape[-1] ** -0.5):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    return scaled_dot_product_attention(query, key, value).transpose(1, 2).contiguous(), None
