"""Build SAM 3's tracker with transformers' `Sam3TrackerVideoModel` from a transformers checkpoint folder, or make
random weights.

SAM 3's checkpoint (`facebook/sam3` on Hugging Face, gated by Meta's SAM License) holds the concept detector and the
tracker in one file; they share the ViT image encoder, and the tracker has its own neck. transformers loads the
tracker's part of such a folder by itself (its conversion mapping renames the shared trunk and the tracker's neck),
so nothing here names a weight. The folder may also hold a tracker alone (`Sam3TrackerVideoModel.save_pretrained`).

No private transformers call here: the public config classes, `Sam3TrackerVideoModel`, `from_pretrained`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from transformers import AutoConfig, Sam3TrackerVideoConfig, Sam3TrackerVideoModel
from transformers.models.sam3_tracker_video.modeling_sam3_tracker_video import Sam3TrackerVideoMaskDecoder

from autotrack.models.common import RANDOM_OBJECT_SCORE_BIAS
from autotrack.models.sam3.parts import SAM3Parts
from autotrack.weights import WeightsError, resolve_weights

MODEL = "sam3"
FOLDER_HINT = "a transformers checkpoint folder in facebook/sam3's layout (config.json and model.safetensors)"


def build_sam3(weights: str | Path | None = None, imgsz: int = 1008) -> Sam3TrackerVideoModel:
    """SAM 3's tracker in eval mode on the CPU, for square inputs of `imgsz` pixels (a multiple of 14).

    weights: None resolves the `sam3` model's folder (see `autotrack.weights`); a path loads a transformers
    checkpoint folder, whose configuration (detector and tracker, or the tracker alone) is the architecture built;
    "random" builds transformers' default SAM 3 tracker (465.8 M parameters) with seeded random weights for
    benchmarks (see `randomize`).
    """
    if weights == "random":
        config = Sam3TrackerVideoConfig()
        config.image_size = imgsz
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = Sam3TrackerVideoModel(config)
            randomize(model)
        return model.eval()
    path = resolve_weights(MODEL, weights)
    if not path.is_dir():
        raise WeightsError(f"{path} is not SAM 3 weights: SAM 3 loads {FOLDER_HINT}")
    config = tracker_config(path, imgsz)
    model, info = Sam3TrackerVideoModel.from_pretrained(path, config=config, output_loading_info=True)
    wrong = info["missing_keys"] or info["mismatched_keys"]
    if wrong:
        raise WeightsError(f"{path} does not hold SAM 3 tracker weights: {len(wrong)} weights missing or "
                           f"misshapen, e.g. {sorted(wrong)[0]}")
    return model.eval()


def folder_config(path: Path):
    """The transformers configuration of checkpoint folder `path`; a one-line error for a folder that is not one."""
    if not (path / "config.json").is_file() or not any(
        (path / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")
    ):
        raise WeightsError(f"{path} is not {FOLDER_HINT}")
    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError, KeyError) as error:
        raise WeightsError(f"{path}/config.json is not a readable transformers config: {error}") from None


def tracker_config(path: Path, imgsz: int) -> Sam3TrackerVideoConfig:
    """The tracker's configuration of checkpoint folder `path` at input size `imgsz`: from a detector-and-tracker
    checkpoint (`sam3_video`) its tracker, on the detector's vision encoder (the trunk and the tracker's neck are
    built alike); a one-line error for a folder that is not a SAM 3 checkpoint."""
    config = folder_config(path)
    if config.model_type == "sam3_video":
        tracker = config.tracker_config
        tracker.vision_config = copy.deepcopy(config.detector_config.vision_config)
    elif config.model_type == "sam3_tracker_video":
        tracker = config
    else:
        raise WeightsError(f"{path} is not a SAM 3 checkpoint: its config.json describes {config.model_type!r}")
    tracker.image_size = imgsz
    return tracker


def detector_config(path: Path, imgsz: int):
    """The concept detector's configuration of checkpoint folder `path` at input size `imgsz`: `Sam3Config` (from a
    detector-and-tracker or a detector checkpoint), or `Sam3LiteTextConfig` (SAM 3 LiteText: the detector with a
    small MobileCLIP-style text encoder)."""
    config = folder_config(path)
    if config.model_type == "sam3_video":
        config = config.detector_config
    elif config.model_type not in ("sam3", "sam3_lite_text"):
        raise WeightsError(f"{path} holds no SAM 3 concept detector: its config.json describes {config.model_type!r}")
    config.image_size = imgsz
    return config


def randomize(model: torch.nn.Module) -> None:
    """Random weights that exercise the whole model (the caller seeds torch, so two builds are identical).

    Layers are re-initialised with PyTorch's defaults (transformers' N(0, 0.02) makes mask logits of about 0.005, so
    masks hang on rounding); then every parameter that is one value throughout (zero embeddings, layer norms, layer
    scales of 1e-6) gets N(0, 0.1) added, so no part of the model is silently absent and two implementations cannot
    agree by accident. Like a random SAM2, a random tracker answers "no object" everywhere, so the bias of the last
    layer of each mask decoder's object-score head is set to +10: masks then cover part of the frame and change from
    frame to frame. `model` may be the tracker or a detector-and-tracker `Sam3VideoModel`.
    """
    with torch.no_grad():
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        for parameter in model.parameters():
            if parameter.numel() and bool((parameter == parameter.flatten()[0]).all()):
                parameter.add_(0.1 * torch.randn_like(parameter))
        for module in model.modules():
            if isinstance(module, Sam3TrackerVideoMaskDecoder):
                module.pred_obj_score_head.proj_out.bias.fill_(RANDOM_OBJECT_SCORE_BIAS)


def build_parts(name: str, weights: str | Path | None, imgsz: int, device: torch.device,
                dtype: torch.dtype = torch.float32) -> SAM3Parts:
    """The engine's parts of SAM 3's tracker on `device` for inputs of `imgsz` (`dtype` is the engine's autocast)."""
    return SAM3Parts(build_sam3(weights, imgsz).to(device))
