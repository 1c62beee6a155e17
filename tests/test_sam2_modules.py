"""Our forward of SAM2's memory attention and memory encoder, which does once per frame the work that depends only
on the frame, gives the outputs of ultralytics' modules on the same inputs."""

from __future__ import annotations

import pytest
import torch

from autotrack.engine.attention import rotate_, rotation_tables, scaled_dot_product_attention
from autotrack.models.sam2.build import build_model
from autotrack.models.sam2.image_encoder import SAM2ImageEncoder
from autotrack.models.sam2.memory_attention import attend_to_memory
from autotrack.models.sam2.memory_encoder import encode_memory, memory_position

IMGSZ = 128
OBJECTS = 3


@pytest.fixture(scope="module")
def model():
    model = build_model("sam2.1_t", "random")
    model.set_imgsz((IMGSZ, IMGSZ))
    return model


@pytest.fixture(scope="module")
def frame(model):
    """The lowest-resolution image features of one random frame, (L, 1, C), their position encoding and size."""
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        image = torch.randn(1, 3, IMGSZ, IMGSZ, generator=generator)
        _, feats, pos, sizes = model._prepare_backbone_features(model.forward_image(image))
    return feats[-1], pos[-1], sizes[-1]


@torch.inference_mode()
def test_memory_attention_runs_the_first_self_attention_once_with_the_same_output(model, frame):
    feats, pos, _ = frame
    generator = torch.Generator().manual_seed(1)
    pointers = 8  # tokens of object pointers at the end of the memory (no rotary encoding)
    memory = torch.randn(2 * feats.shape[0] + pointers, OBJECTS, model.mem_dim, generator=generator)
    memory_pos = torch.randn(memory.shape, generator=generator)
    expected = model.memory_attention(
        curr=feats.expand(-1, OBJECTS, -1), curr_pos=pos.expand(-1, OBJECTS, -1), memory=memory,
        memory_pos=memory_pos, num_obj_ptr_tokens=pointers,
    )
    calls = []
    hook = model.memory_attention.layers[0].self_attn.q_proj.register_forward_hook(lambda m, args, out: calls.append(args))
    try:
        actual = attend_to_memory(model.memory_attention, feats, pos, memory, memory_pos, pointers)
    finally:
        hook.remove()
    assert [args[0].shape[0] for args in calls] == [1]  # one self-attention for the whole batch
    assert actual.shape == expected.shape == (feats.shape[0], OBJECTS, model.hidden_dim)
    assert torch.equal(actual, expected), (actual - expected).abs().max()
    assert not torch.equal(actual[:, 0], actual[:, 1])  # each object's own memory shaped its output


@pytest.mark.parametrize("conditioning", [True, False])
@torch.inference_mode()
def test_memory_encoder_projects_the_image_once_with_the_same_output(model, frame, conditioning):
    feats, _, size = frame
    generator = torch.Generator().manual_seed(2)
    masks = 8 * torch.randn(OBJECTS, 1, IMGSZ, IMGSZ, generator=generator)
    scores = torch.tensor([[3.0], [-2.0], [0.5]])  # the second object is absent: no-object embedding added
    expected, expected_pos = model._encode_new_memory(
        current_vision_feats=[feats.expand(-1, OBJECTS, -1)], feat_sizes=[size], pred_masks_high_res=masks,
        object_score_logits=scores, is_mask_from_pts=conditioning,
    )
    calls = []
    proj = model.memory_encoder.pix_feat_proj
    hook = proj.register_forward_hook(lambda m, args, out: calls.append(args))
    try:
        image = feats.permute(1, 2, 0).view(1, -1, *size)
        actual = encode_memory(model, image, masks, scores, conditioning)
    finally:
        hook.remove()
    assert [args[0].shape[0] for args in calls] == [1]
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)  # a 1x1 conv on 1 image or 3: rounding
    torch.testing.assert_close(memory_position(model, actual), expected_pos[0][:1])


@torch.inference_mode()
def test_blocked_bf16_attention_on_the_cpu_matches_torch_attention(monkeypatch):
    from autotrack.engine import attention as memory_attention

    generator = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 1, n, 64, generator=generator) for n in (96, 200, 200))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.equal(memory_attention.scaled_dot_product_attention(q, k, v), expected)  # float32: torch's own
    monkeypatch.setattr(memory_attention, "SCORES_PER_BLOCK", 2 * 200 * 40)  # 40 query rows per block: 3 blocks
    actual = memory_attention.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert actual.dtype == torch.bfloat16
    torch.testing.assert_close(actual.float(), expected, rtol=0.02, atol=0.02)


@torch.inference_mode()
def test_image_encoder_keeps_position_encodings_per_size_with_the_same_output(model):
    encoder = SAM2ImageEncoder(model)
    generator = torch.Generator().manual_seed(3)
    for _ in range(2):  # the second frame reuses the position encodings of the first
        image = torch.randn(1, 3, IMGSZ, IMGSZ, generator=generator)
        expected = model.forward_image(image)
        levels, pos = encoder(image)
        assert len(levels) == len(expected["backbone_fpn"])
        for actual, wanted in zip(levels, expected["backbone_fpn"]):
            torch.testing.assert_close(actual, wanted)
        torch.testing.assert_close(pos, expected["vision_pos_enc"][-1])
    assert len(encoder._trunk_pos) == len(encoder._neck_pos) == 1


@torch.inference_mode()
def test_attention_product_in_bf16_matches_float32():
    generator = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 4, 300, 32, generator=generator) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert actual.dtype == torch.bfloat16
    torch.testing.assert_close(actual.float(), expected, rtol=0.05, atol=0.02)


@torch.inference_mode()
def test_rotary_encoding_in_place_matches_ultralytics():
    from ultralytics.models.sam.modules.utils import apply_rotary_enc, compute_axial_cis

    generator = torch.Generator().manual_seed(5)
    freqs = compute_axial_cis(dim=32, end_x=4, end_y=4)
    q = torch.randn(2, 1, 16, 32, generator=generator)
    k = torch.randn(2, 1, 3 * 16, 32, generator=generator)  # three memory frames of the same 16 positions
    expected_q, expected_k = apply_rotary_enc(q, k, freqs, repeat_freqs_k=True)
    cos, sin = rotation_tables(freqs, torch.float32)
    rotate_(q, cos, sin)
    rotate_(k, cos, sin)
    torch.testing.assert_close(q, expected_q)
    torch.testing.assert_close(k, expected_k)
    assert not torch.allclose(k[:, :, :16], k[:, :, 16:32])  # each frame rotated its own tokens


@torch.inference_mode()
def test_memory_attention_in_bf16_weighs_the_memory_before_projecting_it(model, frame):
    feats, pos, _ = frame
    generator = torch.Generator().manual_seed(6)
    pointers = 8
    memory = torch.randn(2 * feats.shape[0] + pointers, OBJECTS, model.mem_dim, generator=generator)
    memory_pos = torch.randn(memory.shape, generator=generator)
    expected = attend_to_memory(model.memory_attention, feats, pos, memory, memory_pos, pointers)
    attention = build_model("sam2.1_t", "random").memory_attention.to(torch.bfloat16)
    calls = []
    hooks = [layer.cross_attn_image.v_proj.register_forward_hook(lambda m, args, out: calls.append(args))
             for layer in attention.layers]
    try:
        inputs = [x.bfloat16() for x in (feats, pos, memory, memory_pos)]
        actual = attend_to_memory(attention, *inputs, pointers)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == []  # the values are never made: (a m) W^T + b instead of a (m W^T + b)
    assert actual.dtype == torch.bfloat16
    error = (actual.float() - expected).abs().mean() / expected.abs().mean()
    assert error < 0.02, error
