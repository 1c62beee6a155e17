"""One pass of SAM 3's ViT trunk per frame for the concept detector and the tracker.

SAM 3's checkpoint holds one ViT-L trunk that both models read, each through its own neck. `LastFrameTrunk` wraps
the trunk and keeps its last input and output: a second call with the same pixels (the tracker after the detector
on a frame, or the detector after an example was encoded on it) returns the output of the first. `share_trunk`
gives the tracker the detector's wrapped trunk, so one module (and one copy of its weights) serves both.
"""

from __future__ import annotations

import torch


class LastFrameTrunk(torch.nn.Module):
    """A ViT trunk that answers a repeated input from its last output (see the module's docstring)."""

    def __init__(self, trunk: torch.nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.passes = 0  # trunk passes run, for tests and profiles
        self._last: tuple[torch.Tensor, object] | None = None  # (pixels, output)

    def forward(self, pixel_values: torch.Tensor, **kwargs):
        """The trunk's output (`last_hidden_state`, ...) for `pixel_values` (B, 3, S, S)."""
        last = self._last
        if last is not None and not kwargs and last[0].device == pixel_values.device and torch.equal(
                last[0], pixel_values):
            return last[1]
        output = self.trunk(pixel_values, **kwargs)
        self.passes += 1
        self._last = (pixel_values, output)
        return output


def last_frame_trunk(vision_encoder: torch.nn.Module) -> LastFrameTrunk:
    """The vision encoder's trunk wrapped in `LastFrameTrunk` (in place, once)."""
    if not isinstance(vision_encoder.backbone, LastFrameTrunk):
        vision_encoder.backbone = LastFrameTrunk(vision_encoder.backbone)
    return vision_encoder.backbone


def share_trunk(detector: torch.nn.Module, tracker: torch.nn.Module) -> LastFrameTrunk:
    """Give `tracker` (a `Sam3TrackerVideoModel`) the trunk of `detector` (a `Sam3Model`), wrapped in
    `LastFrameTrunk`: both must have been loaded from one checkpoint, whose trunk they share. The tracker's own trunk
    is dropped (its memory freed)."""
    trunk = last_frame_trunk(detector.vision_encoder)
    tracker.vision_encoder.backbone = trunk
    return trunk
