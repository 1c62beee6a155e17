"""Random weights that make comparisons meaningful: no parameter zero throughout, batch norms calibrated."""

from __future__ import annotations

import torch

NEGLIGIBLE = 1e-4  # a tensor this small throughout (SAM2's layer scales of 1e-6) counts as zero


def make_nonzero(model: torch.nn.Module) -> None:
    """Random weights in which no parameter or buffer is zero or negligible throughout (temporal encodings,
    no-memory and no-object embeddings and biases start at zero, layer scales at 0 or 1e-6): a slot-order or
    missing-term bug in one implementation then shows instead of multiplying by nothing."""
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point() and tensor.numel() and tensor.abs().max() < NEGLIGIBLE:
                tensor.add_(0.1 * torch.randn(tensor.shape, generator=generator))


def calibrate_batch_norms(encoder: torch.nn.Module, images: torch.Tensor) -> None:
    """Batch norms' running statistics measured on `images` passed through `encoder`, as training leaves them. With
    a random network's (mean 0, variance 1) a batch norm normalises nothing: activations shrink or grow layer after
    layer, and folding it into its convolution is almost the identity, so a comparison would not check what a
    trained network computes."""
    norms = [module for module in encoder.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms, "no batch norm to calibrate"
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over what is seen
        norm.train()
    with torch.no_grad():
        encoder(images)
    for norm in norms:
        norm.eval()
