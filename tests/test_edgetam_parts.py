"""EdgeTAM's parts, driven for a batch of objects, give the outputs of transformers' own modules on the same inputs,
with the work that depends only on the frame done once."""

from __future__ import annotations

import pytest
import torch

from autotrack.models.edgetam.build import build_edgetam
from autotrack.models.edgetam.parts import EdgeTAMParts

IMGSZ = 512  # the perceiver pools 2x2 windows of the 32x32 memory map
OBJECTS = 3


@pytest.fixture(scope="module")
def parts():
    return EdgeTAMParts(build_edgetam("random", IMGSZ))


@pytest.fixture(scope="module")
def features(parts):
    with torch.inference_mode():
        return parts.encode_image(torch.randn(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0)))


@torch.inference_mode()
def test_memory_attention_runs_the_first_self_attention_once_with_the_same_output(parts, features):
    generator = torch.Generator().manual_seed(1)
    frames, pointers = 2, 16  # two memory frames of 512 tokens, then pointer tokens (no rotary encoding)
    memory = torch.randn(frames * 512 + pointers, OBJECTS, parts.mem_dim, generator=generator)
    memory_pos = torch.randn(memory.shape, generator=generator)
    expected = parts.model.memory_attention(
        current_vision_features=features.vision.expand(-1, OBJECTS, -1), memory=memory,
        current_vision_position_embeddings=features.pos.expand(-1, OBJECTS, -1), memory_posision_embeddings=memory_pos,
        num_object_pointer_tokens=pointers, num_spatial_memory_tokens=frames,
    )[0].transpose(1, 2).reshape(OBJECTS, -1, *features.size)
    calls = []
    first = parts.model.memory_attention.layers[0].self_attn
    hook = first.register_forward_hook(lambda module, args, kwargs, out: calls.append(kwargs["query"].shape[0]),
                                       with_kwargs=True)
    try:
        actual = parts.attend(features, memory, memory_pos, frames, pointers)
    finally:
        hook.remove()
    assert calls == [1]  # one self-attention for the whole batch
    torch.testing.assert_close(actual, expected)
    assert not torch.equal(actual[0], actual[1])  # each object's own memory shaped its output


@pytest.mark.parametrize("from_prompt", [True, False])
@torch.inference_mode()
def test_memory_is_encoded_and_compressed_as_transformers_does_it_object_by_object(parts, features, from_prompt):
    masks = 8 * torch.randn(OBJECTS, 1, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(2))
    scores = torch.tensor([[3.0], [-2.0], [0.5]])
    tokens = parts.encode_memory(features, masks, scores, from_prompt)
    pos = parts.memory_position(torch.tensor([0]))  # a prompted frame's entry: the last temporal slot
    assert tokens.shape == (OBJECTS, 512, parts.mem_dim) and pos.shape == (512, 1, parts.mem_dim)
    for b in range(OBJECTS):
        expected, expected_pos = parts.model._encode_new_memory(features.vision, masks[b : b + 1], scores[b : b + 1],
                                                                from_prompt)
        torch.testing.assert_close(tokens[b : b + 1], expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(pos[:, 0], expected_pos[0] + parts.temporal_table()[-1])


@torch.inference_mode()
def test_decoder_gives_transformers_candidates_scores_and_pointers(parts, features):
    points = torch.tensor([[[100.0, 120.0], [300.0, 280.0]]])  # a box: corners labelled 2 and 3
    labels = torch.tensor([[2, 3]], dtype=torch.int32)
    pixels = parts.no_memory(features)
    heads = parts.decode(pixels, features.high_res, points, labels, multimask=True)
    expected = parts.model._single_frame_forward(input_points=points[:, None], input_labels=labels[:, None],
                                                 image_embeddings=features.high_res + [pixels], multimask_output=True)
    assert heads.masks.shape == (1, 3, IMGSZ // 4, IMGSZ // 4)
    torch.testing.assert_close(heads.ious, expected.iou_scores[:, 0])
    torch.testing.assert_close(heads.object_score, expected.object_score_logits[:, 0])
    best = int(heads.ious.argmax())
    torch.testing.assert_close(heads.masks[:, best], expected.pred_masks[:, 0])
    pointer = parts.object_pointer(heads.tokens[:, best], heads.object_score)
    torch.testing.assert_close(pointer, expected.object_pointer[:, 0])


@torch.inference_mode()
def test_image_encoder_makes_the_position_encoding_once_with_the_same_output(parts):
    generator = torch.Generator().manual_seed(5)
    storages = set()
    for _ in range(2):  # the second frame reuses the position encoding of the first
        image = torch.randn(1, 3, IMGSZ, IMGSZ, generator=generator)
        expected = parts.model.get_image_features(image.contiguous(memory_format=torch.channels_last))
        actual = parts.encode_image(image)
        torch.testing.assert_close(actual.vision, expected.fpn_hidden_states[-1])
        torch.testing.assert_close(actual.pos, expected.fpn_position_encoding[-1])
        for ours, theirs in zip(actual.high_res, expected.fpn_hidden_states[:-1]):
            torch.testing.assert_close(ours, theirs.permute(1, 2, 0).reshape(ours.shape))
        storages.add(actual.pos.untyped_storage().data_ptr())
    assert len(storages) == 1


def test_the_build_is_repvit_m1_edgetam_with_its_parameter_count():
    """transformers' defaults would build another backbone; the explicit config gives RepViT-M1, 13.9 M in all."""
    model = build_edgetam("random", 256)
    assert model.vision_encoder.backbone.timm_model.default_cfg["architecture"] == "repvit_m1"
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 13.9
