"""Learned appearance embedders for re-identification: a network run on each object's box crop, whose vectors replace
the engine's free embedding (`ObjectState.embedding`) for the galleries and the matching.

The free embedding is not an `Embedder`: it is pooled from the engine's own image features under each object's
mask, inside the engine's step (`reid.embedding`), so it needs no frame and no boxes. An embedder takes the frame
and the boxes the engine found, after the step, so the same `Reidentifier` code serves both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import cv2
import numpy as np

from autotrack.config import ReidConfig
from autotrack.device import resolve_device
from autotrack.errors import InputError, one_line
from autotrack.types import ObjectState
from autotrack.weights import WeightsError, resolve_timm_weights

if TYPE_CHECKING:
    import torch

TIMM_NAMES = "list names with `python -c \"import timm; print(timm.list_pretrained('resnet*'))\"`"


class Embedder(ABC):
    """An appearance embedder: what each box of a frame looks like, as a unit-length vector."""

    @abstractmethod
    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, D) float32 unit rows, one per xyxy box of `boxes` (N, 4) on `frame` (HxWx3 BGR uint8)."""


class TimmEmbedder(Embedder):
    """A timm backbone on box crops: each crop resized to the model's input size and normalised as its pretrained
    configuration says (`timm.data.resolve_data_config`), its globally pooled features L2-normalised."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        import torch  # heavy: only when a learned embedder is built
        from timm.data import resolve_data_config

        data = resolve_data_config({}, model=model)
        self.model = model.eval().to(device)
        self.device = device
        self.height, self.width = data["input_size"][1:]
        self._mean = torch.tensor(data["mean"], device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(data["std"], device=device).view(1, 3, 1, 1)

    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        if len(boxes) == 0:
            return np.zeros((0, self.model.num_features), np.float32)
        rgb = frame[..., ::-1]
        crops = [cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), (self.width, self.height),
                            interpolation=cv2.INTER_LINEAR) for x0, y0, x1, y1 in _pixel_bounds(boxes, frame.shape)]
        batch = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        with torch.inference_mode():
            features = self.model((batch - self._mean) / self._std)
        return F.normalize(features.float(), dim=-1).cpu().numpy()


def embed_states(embedder: Embedder, frame: np.ndarray, states: dict[int, ObjectState]) -> None:
    """Give every object with a non-empty mask its embedding from `embedder` (in place of the engine's); others
    have none, as with the free embedding."""
    seen = [obj_id for obj_id, state in states.items() if state.mask.any()]
    vectors = embedder(frame, np.array([states[obj_id].box for obj_id in seen], np.float32).reshape(-1, 4))
    for obj_id, vector in zip(seen, vectors):
        states[obj_id].embedding = vector


def check_embedder(config: ReidConfig) -> None:
    """Fail in one line, before any model loads, when the learned embedder's package is missing or timm does not
    know its model name. Loads nothing."""
    name = config.timm_model
    if not config.enabled or name is None:
        return
    try:
        import timm
    except ImportError:
        raise InputError(f'reid.embedder timm:{name} needs timm: pip install "autotrack[reid]"') from None
    if not timm.is_model(name):
        raise InputError(f"reid.embedder: timm has no model {name!r}; {TIMM_NAMES}")


def load_embedder(config: ReidConfig, device: str = "auto") -> Embedder | None:
    """The learned embedder `config` names (None: the free embedding, or re-identification off), with its weights
    (`resolve_timm_weights`): timm's pretrained ones, a checkpoint file, or random ones."""
    check_embedder(config)
    name = config.timm_model
    if not config.enabled or name is None:
        return None
    import timm

    weights = resolve_timm_weights(name, config.embedder_weights)
    from_file = weights not in (None, "random")
    try:  # num_classes=0: the model ends with its global pooling, no classifier
        model = timm.create_model(name, pretrained=weights is None, num_classes=0)
        if from_file:
            _load_checkpoint(model, weights)
    except (OSError, RuntimeError) as error:  # a download that failed, a checkpoint of another model
        source = f" from {weights}" if from_file else ""
        raise WeightsError(f"cannot load the weights of timm model {name!r}{source}: {one_line(error)}") from None
    return TimmEmbedder(model, resolve_device(device))


def _load_checkpoint(model: torch.nn.Module, path: str) -> None:
    """A timm checkpoint or state dict into `model`, strictly but for its classifier (the embedder has none): a
    checkpoint of another model fails rather than leave layers random."""
    from timm.models import load_state_dict

    classifiers = model.pretrained_cfg.get("classifier") or ()
    prefixes = tuple(f"{name}." for name in ((classifiers,) if isinstance(classifiers, str) else classifiers))
    state = load_state_dict(path)
    model.load_state_dict({key: value for key, value in state.items() if not key.startswith(prefixes)})


def _pixel_bounds(boxes: np.ndarray, shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Integer pixel bounds of xyxy boxes, clipped to the frame, each at least one pixel wide and high."""
    height, width = shape[:2]
    bounds = []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float32):
        left, top = min(max(int(x0), 0), width - 1), min(max(int(y0), 0), height - 1)
        bounds.append((left, top, max(min(int(np.ceil(x1)), width), left + 1),
                       max(min(int(np.ceil(y1)), height), top + 1)))
    return bounds
