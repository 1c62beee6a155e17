"""Weight files: saved state_dicts load back under ultralytics' and Meta's names, EdgeTAM's from Meta's checkpoint
layout and from a transformers checkpoint; missing files fail fast and clearly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import timm
import torch

from autotrack.models.sam2.build import build_model
from autotrack.models.edgetam.build import build_edgetam
from autotrack.weights import WeightsError, get_spec, resolve_weights

OFFICIAL_KEYS = Path(__file__).parent / "data" / "edgetam_official_keys.txt"


def same_parameters(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "name, file, nested",
    [
        ("sam2.1_t", "sam2.1_t.pt", False),  # ultralytics: a bare state_dict
        ("sam2.1_t", "sam2.1_hiera_tiny.pt", True),  # Meta: {"model": state_dict}
        ("sam2_t", "sam2_hiera_tiny.pt", True),
    ],
)
def test_saved_weights_load_back_by_name(name, file, nested, tmp_path, monkeypatch, no_network):
    source = build_model(name, "random")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.01)  # differ from a fresh random build, so loading is really checked
    state = source.state_dict()
    folder = tmp_path / "mine"
    folder.mkdir()
    torch.save({"model": state} if nested else state, folder / file)
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(folder))
    assert resolve_weights(name) == folder / file
    assert same_parameters(build_model(name), source)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save(build_model("sam2_t", "random").state_dict(), path)  # SAM2.0 lacks SAM2.1's extra parameters
    with pytest.raises(WeightsError, match="does not hold sam2.1_t weights"):
        build_model("sam2.1_t", path)


def official_edgetam_checkpoint() -> dict[str, torch.Tensor]:
    """A state_dict laid out as Meta's `edgetam.pt`, random values: the image encoder is timm's RepViT-M1 under
    `image_encoder.trunk.body.`; the other names and shapes are those of the official model."""
    generator = torch.Generator().manual_seed(0)
    repvit = timm.create_model("repvit_m1", features_only=True, out_indices=[0, 1, 2, 3])
    state = {f"image_encoder.trunk.body.{k}": torch.rand(v.shape, generator=generator) if v.is_floating_point() else v
             for k, v in repvit.state_dict().items()}
    for line in OFFICIAL_KEYS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, shape = line.split()
            state[name] = torch.rand([int(n) for n in shape.split(",")], generator=generator)
    return state


def test_meta_edgetam_checkpoint_loads_by_name(tmp_path, monkeypatch, no_network):
    official = official_edgetam_checkpoint()
    torch.save({"model": official}, tmp_path / "edgetam.pt")
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(tmp_path))
    assert resolve_weights("edgetam") == tmp_path / "edgetam.pt"
    loaded = build_edgetam(None, imgsz=256).state_dict()  # strict: every weight of the model came from the file
    renamed = {  # a sample of each kind of renaming, checked by value
        "image_encoder.trunk.body.stem.conv1.c.weight": "vision_encoder.backbone.timm_model.stem.conv1.c.weight",
        "image_encoder.neck.convs.3.conv.weight": "vision_encoder.neck.convs.3.weight",
        "maskmem_tpos_enc": "memory_temporal_positional_encoding",
        "memory_attention.layers.1.linear2.weight": "memory_attention.layers.1.mlp.down_proj.weight",
        "memory_encoder.mask_downsampler.encoder.12.weight": "memory_encoder.mask_downsampler.final_conv.weight",
        "memory_encoder.fuser.layers.0.gamma": "memory_encoder.memory_fuser.layers.0.scale",
        "memory_encoder.out_proj.weight": "memory_encoder.projection.weight",
        "sam_mask_decoder.pred_obj_score_head.layers.2.bias": "mask_decoder.pred_obj_score_head.proj_out.bias",
        "sam_mask_decoder.output_upscaling.1.weight": "mask_decoder.upscale_layer_norm.weight",
        "obj_ptr_proj.layers.1.weight": "object_pointer_proj.layers.0.weight",
        "spatial_perceiver.latents": "spatial_perceiver.latents_1d",
        "spatial_perceiver.layers.1.self_ff.3.weight": "spatial_perceiver.layers.1.self_mlp.down_proj.weight",
        "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix": "shared_image_embedding.positional_embedding",
    }
    for theirs, ours in renamed.items():
        assert torch.equal(loaded[ours], official[theirs]), ours
    key, value = official["spatial_perceiver.layers.0.attn.to_kv.weight"].chunk(2)
    assert torch.equal(loaded["spatial_perceiver.layers.0.cross_attention.k_proj.weight"], key)
    assert torch.equal(loaded["spatial_perceiver.layers.0.cross_attention.v_proj.weight"], value)
    points = [official[f"sam_prompt_encoder.point_embeddings.{i}.weight"] for i in range(4)]
    assert torch.equal(loaded["prompt_encoder.point_embed.weight"], torch.cat(points))


def test_transformers_edgetam_checkpoint_loads_by_name(tmp_path, monkeypatch, no_network):
    source = build_edgetam("random", imgsz=256)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.01)  # differ from a fresh random build, so loading is really checked
    source.save_pretrained(tmp_path / "EdgeTAM-hf")
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(tmp_path))
    assert resolve_weights("edgetam") == tmp_path / "EdgeTAM-hf"
    assert same_parameters(build_edgetam(None, imgsz=512), source)  # no weight depends on the input size


def test_sam2_weights_are_not_edgetam_weights(tmp_path):
    path = tmp_path / "edgetam.pt"
    torch.save(build_model("sam2.1_t", "random").state_dict(), path)
    with pytest.raises(WeightsError, match="does not hold EdgeTAM weights"):
        build_edgetam(path, imgsz=256)
    (tmp_path / "EdgeTAM-hf").mkdir()
    with pytest.raises(WeightsError, match="without model.safetensors"):
        build_edgetam(tmp_path / "EdgeTAM-hf", imgsz=256)


@pytest.mark.parametrize("name", ["sam2.1_s", "edgetam"])
def test_missing_weights_without_network_fail_fast_with_a_clear_message(no_network, name):
    spec = get_spec(name)
    start = time.monotonic()
    with pytest.raises(WeightsError) as error:
        build_model(name) if spec.family == "sam2" else build_edgetam(imgsz=256)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert all(file in message for file in spec.files)  # which file
    assert "weights" in message  # where to put it
    assert all(url in message for url in spec.urls)  # where to get it
    assert "\n" not in message


def test_unknown_model_and_missing_path():
    with pytest.raises(WeightsError, match="unknown model"):
        get_spec("sam3_t")
    with pytest.raises(WeightsError, match="weights file not found"):
        resolve_weights("sam2.1_t", "/nonexistent/file.pt")
