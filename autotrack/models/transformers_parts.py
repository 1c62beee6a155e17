"""What the families built from transformers' SAM2-video modules (EdgeTAM, SAM 3) share: the prompt encoder and
mask decoder, object pointers, the no-memory embedding and the memory slots' temporal table have the same names and
calls in both; the image encoder, memory attention and memory encoder differ and stay in each family's parts.

Our attention function is registered with transformers' `AttentionInterface` when parts are built, not on import.
"""

from __future__ import annotations

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
