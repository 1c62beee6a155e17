"""Build a SAM2 model from a name with ultralytics' builders, then load weights or make them random.

No private ultralytics call here: the public `build_sam2_*` builders and `SAM2Model` attributes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from ultralytics.models.sam.build import (
    build_sam2_b,
    build_sam2_l,
    build_sam2_s,
    build_sam2_t,
)
from ultralytics.models.sam.modules.sam import SAM2Model

from autotrack.errors import InputError
from autotrack.models.common import RANDOM_OBJECT_SCORE_BIAS
from autotrack.models.sam2.parts import SAM2Parts
from autotrack.weights import WeightsError, get_spec, load_state_dict, resolve_weights

_BUILDERS = {"t": build_sam2_t, "s": build_sam2_s, "b": build_sam2_b, "l": build_sam2_l}


def _enable_sam2_1(model: SAM2Model) -> None:
    """Switch a freshly built SAM2 model to the SAM2.1 architecture.

    ultralytics decides SAM2.1 from the checkpoint file name; we know the variant from the model name, so any file
    name loads. These are exactly the three flags ultralytics' builder sets for SAM2.1 files.
    """
    model.no_obj_embed_spatial = torch.nn.Parameter(torch.zeros(1, model.mem_dim))
    torch.nn.init.trunc_normal_(model.no_obj_embed_spatial, std=0.02)
    model.proj_tpos_enc_in_obj_ptrs = True
    model.use_signed_tpos_enc_to_obj_ptrs = True
    model.obj_ptr_tpos_proj = torch.nn.Linear(model.hidden_dim, model.mem_dim)


def build_model(name: str, weights: str | Path | None = None) -> SAM2Model:
    """Build SAM2 model `name` (e.g. "sam2.1_t") in eval mode on the CPU.

    weights: None resolves the named model's file (see `autotrack.weights`); a path loads that file; "random" keeps
    random weights for tests and benchmarks. A random SAM2 always answers "no object" (its object-score logit is
    <= 0) and then blanks every mask, so "random" also sets the bias of the last layer of the mask decoder's
    object-score head to +10: masks then cover part of the frame and change from frame to frame, so masks, boxes,
    memory encoding and costs are all exercised. Random weights are seeded, so two builds are identical.
    """
    spec = get_spec(name)
    if spec.family != "sam2":
        raise InputError(f"{name} is not a SAM2 model")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = _BUILDERS[spec.size]()
        if spec.version == "2.1":
            _enable_sam2_1(model)
    if weights == "random":
        head = model.sam_mask_decoder.pred_obj_score_head
        last = head.layers[-1] if hasattr(head, "layers") else head
        with torch.no_grad():
            last.bias.fill_(RANDOM_OBJECT_SCORE_BIAS)
    else:
        path = resolve_weights(name, weights)
        try:
            model.load_state_dict(load_state_dict(path))
        except RuntimeError as error:
            raise WeightsError(f"{path} does not hold {spec.name} weights: {str(error).splitlines()[0]}") from error
    # The video predictors of SAM2 binarise the masks of prompted frames before encoding them into memory.
    model.set_binarize(True)
    return model.eval()


def build_parts(name: str, weights: str | Path | None, imgsz: int, device: torch.device,
                dtype: torch.dtype = torch.float32) -> SAM2Parts:
    """The engine's parts of SAM2 model `name` on `device` for inputs of `imgsz`, computing in `dtype`."""
    return SAM2Parts(build_model(name, weights).to(device), imgsz, dtype)
