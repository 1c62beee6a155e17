"""Build EdgeTAM with transformers' `EdgeTamVideoModel` (its image encoder is timm's RepViT-M1), then load Meta's
official `edgetam.pt`, a transformers-format checkpoint, or make random weights.

EdgeTAM (Meta, CVPR 2025, Apache-2.0) is SAM2 with a RepViT-M1 image encoder and a 2D spatial perceiver that
compresses every memory frame to 512 tokens. transformers implements every part of it, the perceiver and the
RoPE memory attention over 16x16 memory latents included, so nothing here is written by hand but the names of
the official checkpoint's weights.

No private transformers call here: the public config classes, `EdgeTamVideoModel`, `from_pretrained`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from transformers import EdgeTamVideoConfig, EdgeTamVideoModel, EdgeTamVisionConfig, TimmWrapperConfig

from autotrack.models.common import RANDOM_OBJECT_SCORE_BIAS
from autotrack.models.edgetam.parts import EdgeTAMParts
from autotrack.weights import WeightsError, load_state_dict, resolve_weights

MODEL = "edgetam"
MEMORY_GRID = 16  # the perceiver's 2D latents: a 16x16 grid per memory frame, so imgsz / 16 must split into it
# what a checkpoint folder's config.json must agree on with ours (the sizes that follow imgsz carry no weights)
ARCHITECTURE_KEYS = (
    "model_type", "num_maskmem", "perceiver_resampler_num_latents", "perceiver_resampler_num_latents_2d",
    "memory_attention_rope_k_sizes", "enable_temporal_pos_encoding_for_object_pointers",
    "enable_occlusion_spatial_embedding", "vision_config.backbone_channel_list", "vision_config.fpn_top_down_levels",
    "vision_config.num_feature_levels", "vision_config.backbone_config.architecture",
)

def edgetam_config(imgsz: int = 1024) -> EdgeTamVideoConfig:
    """EdgeTAM's architecture at input size `imgsz`, spelled out.

    Nothing is left to transformers' defaults: `EdgeTamVideoConfig()` alone builds a Hiera image encoder, and the
    RepViT default of `EdgeTamVisionConfig` misspells `architecture`, so it silently builds another timm model.
    RepViT-M1 with SAM2's FPN neck, memory attention and memory encoder, and the perceiver: 13.9 M parameters.
    The feature sizes and the memory attention's RoPE grid follow `imgsz` (a multiple of 256, checked by the family
    before anything is built); no weight depends on it.
    """
    side = imgsz // 16
    backbone = TimmWrapperConfig(
        architecture="repvit_m1",
        model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
    )
    vision = EdgeTamVisionConfig(
        backbone_config=backbone,
        backbone_channel_list=[384, 192, 96, 48],
        backbone_feature_sizes=[[4 * side, 4 * side], [2 * side, 2 * side], [side, side]],
        fpn_top_down_levels=[2, 3],
        num_feature_levels=3,
    )
    return EdgeTamVideoConfig(
        vision_config=vision,
        prompt_encoder_config={"image_size": imgsz},
        image_size=imgsz,
        num_maskmem=7,
        memory_attention_rope_feat_sizes=[side, side],
        memory_attention_rope_k_sizes=[MEMORY_GRID, MEMORY_GRID],
        perceiver_resampler_num_latents=256,
        perceiver_resampler_num_latents_2d=MEMORY_GRID * MEMORY_GRID,
        # EdgeTAM is built on SAM2.0: no temporal encoding of object pointers, no occlusion embedding in memory
        enable_temporal_pos_encoding_for_object_pointers=False,
        enable_occlusion_spatial_embedding=False,
    )


def build_edgetam(weights: str | Path | None = None, imgsz: int = 1024) -> EdgeTamVideoModel:
    """EdgeTAM in eval mode on the CPU, for square inputs of `imgsz` pixels.

    weights: None resolves the `edgetam` model's file (see `autotrack.weights`); a path loads Meta's `edgetam.pt`
    or a transformers checkpoint (a folder with `model.safetensors`, as `save_pretrained` writes it); "random"
    keeps seeded random weights for tests and benchmarks (see `_randomize`).
    """
    config = edgetam_config(imgsz)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = EdgeTamVideoModel(config)
        if weights == "random":
            _randomize(model)
            return model.eval()
    path = resolve_weights(MODEL, weights)
    if path.is_dir():
        return _load_transformers_folder(path, config)
    state = load_state_dict(path)
    if any(key.startswith("image_encoder.") for key in state):
        state = convert_official(state)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise WeightsError(f"{path} does not hold EdgeTAM weights: {str(error).splitlines()[0]}") from error
    return model.eval()


def _randomize(model: EdgeTamVideoModel) -> None:
    """Random weights that exercise the whole model (the caller seeds torch, so two builds are identical).

    transformers initialises every layer with N(0, 0.02): the mask logits of such a model are about 0.005, so masks
    hang on rounding. Its layers are re-initialised with PyTorch's defaults instead (as ultralytics' SAM2 is built).
    Like a random SAM2, a random EdgeTAM then always answers "no object" and blanks every mask, so the bias of the
    last layer of the mask decoder's object-score head is set to +10: masks then cover about a quarter of the frame
    and change from frame to frame, so masks, boxes, memory encoding and costs are all exercised.
    """
    with torch.no_grad():
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(RANDOM_OBJECT_SCORE_BIAS)


def _load_transformers_folder(path: Path, config) -> EdgeTamVideoModel:
    """A transformers checkpoint folder, read by transformers itself (it knows how its files name the weights), once
    its own config.json is checked against ours."""
    if not (path / "model.safetensors").is_file():
        raise WeightsError(f"{path} is a folder without model.safetensors: not a transformers EdgeTAM checkpoint")
    check_folder_config(path, config)
    model, info = EdgeTamVideoModel.from_pretrained(path, config=config, output_loading_info=True)
    wrong = info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]
    if wrong:
        raise WeightsError(f"{path} does not hold EdgeTAM weights: {len(wrong)} weights missing, extra or "
                           f"misshapen, e.g. {sorted(wrong)[0]}")
    return model.eval()


def check_folder_config(path: Path, config) -> None:
    """A checkpoint folder's config.json (when it has one) must describe EdgeTAM as `config` does: one line naming
    the first architecture setting that differs."""
    file = path / "config.json"
    if not file.is_file():
        return
    try:
        theirs = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"{file} is not a readable JSON config: {error}") from None
    ours = config.to_dict()
    for key in ARCHITECTURE_KEYS:
        mine, other = _lookup(ours, key), _lookup(theirs, key)
        if other is not None and other != mine:
            raise WeightsError(f"{file} is not EdgeTAM's configuration: {key} is {other!r}, EdgeTAM has {mine!r}")


def _lookup(data: dict, dotted: str):
    """data["a"]["b"] for "a.b", or None where a level is missing."""
    for key in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def build_parts(name: str, weights: str | Path | None, imgsz: int, device: torch.device,
                dtype: torch.dtype = torch.float32) -> EdgeTAMParts:
    """The engine's parts of EdgeTAM on `device` for inputs of `imgsz` (EdgeTAM casts nothing itself: `dtype` is
    the engine's autocast)."""
    return EdgeTAMParts(build_edgetam(weights, imgsz).to(device))


# ---------------------------------------------------------------------------------- Meta's checkpoint names
# Meta's `edgetam.pt` uses the official SAM2 code's module names; transformers names the same weights otherwise.
# Rules apply in order, each to the result of the ones before; the image encoder's timm model keeps its names.
_BACKBONE, _TIMM = "image_encoder.trunk.body.", "vision_encoder.backbone.timm_model."
_RENAMES = [
    (r"^image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.convs.\1."),
    (r"^maskmem_tpos_enc$", "memory_temporal_positional_encoding"),
    (r"^no_mem_embed$", "no_memory_embedding"),
    (r"^no_mem_pos_enc$", "no_memory_positional_encoding"),
    (r"^no_obj_ptr$", "no_object_pointer"),
    (r"^obj_ptr_proj\.", "object_pointer_proj."),
    (r"^sam_prompt_encoder\.", "prompt_encoder."),
    (r"^sam_mask_decoder\.", "mask_decoder."),
    # attention and layer norms (memory attention, mask decoder)
    (r"\.out_proj\.", ".o_proj."),
    (r"\.norm(\d)\.", r".layer_norm\1."),
    (r"\.norm_final_attn\.", ".layer_norm_final_attn."),
    (r"^memory_attention\.norm\.", "memory_attention.layer_norm."),
    (r"^(memory_attention\.layers\.\d+)\.linear1\.", r"\1.mlp.up_proj."),
    (r"^(memory_attention\.layers\.\d+)\.linear2\.", r"\1.mlp.down_proj."),
    # mask decoder: the two-layer MLPs of its transformer, the upscaling, and the three-layer MLP heads
    (r"(transformer\.layers\.\d+\.mlp)\.layers\.0\.", r"\1.proj_in."),
    (r"(transformer\.layers\.\d+\.mlp)\.layers\.1\.", r"\1.proj_out."),
    (r"output_upscaling\.0\.", "upscale_conv1."),
    (r"output_upscaling\.1\.", "upscale_layer_norm."),
    (r"output_upscaling\.3\.", "upscale_conv2."),
    (r"(output_hypernetworks_mlps\.\d+|iou_prediction_head|pred_obj_score_head|object_pointer_proj)\.layers\.0\.",
     r"\1.proj_in."),
    (r"(output_hypernetworks_mlps\.\d+|iou_prediction_head|pred_obj_score_head|object_pointer_proj)\.layers\.1\.",
     r"\1.layers.0."),
    (r"(output_hypernetworks_mlps\.\d+|iou_prediction_head|pred_obj_score_head|object_pointer_proj)\.layers\.2\.",
     r"\1.proj_out."),
    # prompt encoder
    (r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$",
     "prompt_encoder.shared_embedding.positional_embedding"),
    (r"^prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    # memory encoder: mask downsampler (conv, norm, activation) x 4 + final conv; fuser blocks
    (r"mask_downsampler\.encoder\.12\.", "mask_downsampler.final_conv."),
    (r"mask_downsampler\.encoder\.(0|3|6|9)\.", lambda m: f"mask_downsampler.layers.{int(m[1]) // 3}.conv."),
    (r"mask_downsampler\.encoder\.(1|4|7|10)\.", lambda m: f"mask_downsampler.layers.{int(m[1]) // 3}.layer_norm."),
    (r"^memory_encoder\.pix_feat_proj\.", "memory_encoder.feature_projection."),
    (r"^memory_encoder\.o_proj\.", "memory_encoder.projection."),  # `out_proj` was renamed above
    (r"^memory_encoder\.fuser\.", "memory_encoder.memory_fuser."),
    (r"\.gamma$", ".scale"),
    (r"\.dwconv\.", ".depthwise_conv."),
    (r"\.pwconv(\d)\.", r".pointwise_conv\1."),
    (r"(memory_fuser\.layers\.\d+)\.norm\.", r"\1.layer_norm."),
    # spatial perceiver
    (r"^spatial_perceiver\.latents$", "spatial_perceiver.latents_1d"),
    (r"^spatial_perceiver\.norm\.", "spatial_perceiver.layer_norm."),
    (r"\.attn\.norm_x\.", ".layer_norm_input."),
    (r"\.attn\.norm_latents\.", ".layer_norm_latents."),
    (r"\.self_attn\.norm\.", ".layer_norm_self."),
    (r"(spatial_perceiver\.layers\.\d+)\.attn\.to_", r"\1.cross_attention.to_"),
    (r"(spatial_perceiver\.layers\.\d+)\.self_attn\.to_", r"\1.self_attention.to_"),
    (r"\.to_q\.", ".q_proj."),
    (r"\.to_out\.", ".o_proj."),
    (r"(spatial_perceiver\.layers\.\d+)\.ff\.0\.", r"\1.mlp.layer_norm."),
    (r"(spatial_perceiver\.layers\.\d+)\.ff\.1\.", r"\1.mlp.up_proj."),
    (r"(spatial_perceiver\.layers\.\d+)\.ff\.3\.", r"\1.mlp.down_proj."),
    (r"(spatial_perceiver\.layers\.\d+)\.self_ff\.0\.", r"\1.self_mlp.layer_norm."),
    (r"(spatial_perceiver\.layers\.\d+)\.self_ff\.1\.", r"\1.self_mlp.up_proj."),
    (r"(spatial_perceiver\.layers\.\d+)\.self_ff\.3\.", r"\1.self_mlp.down_proj."),
]


def convert_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Meta's `edgetam.pt` state_dict under transformers' names.

    Besides renaming: the perceiver's fused key-value projections (`to_kv`) split into `k_proj` and `v_proj`, the
    prompt encoder's four point embeddings become the rows of one table, and the random Fourier matrix of the
    prompt encoder is also the model's image-wide position encoding.
    """
    converted, points = {}, {}
    for key, value in state.items():
        if key.startswith(_BACKBONE):  # timm's own names on both sides
            converted[_TIMM + key.removeprefix(_BACKBONE)] = value
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        if match := re.fullmatch(r"prompt_encoder\.point_embeddings\.(\d)\.weight", key):
            points[int(match[1])] = value
        elif ".to_kv." in key:
            converted[key.replace(".to_kv.", ".k_proj.")], converted[key.replace(".to_kv.", ".v_proj.")] = (
                value.chunk(2, dim=0)
            )
        else:
            converted[key] = value
    if points:
        converted["prompt_encoder.point_embed.weight"] = torch.cat([points[i] for i in sorted(points)])
    gaussian = converted.get("prompt_encoder.shared_embedding.positional_embedding")
    if gaussian is not None:
        converted["shared_image_embedding.positional_embedding"] = gaussian
    return converted
