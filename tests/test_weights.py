"""Weight files: saved state_dicts load back under ultralytics' and Meta's names; missing files fail fast and clearly."""

from __future__ import annotations

import time

import pytest
import torch

from autotrack.sam2.build import build_model
from autotrack.weights import WeightsError, get_spec, resolve_weights


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


def test_missing_weights_without_network_fail_fast_with_a_clear_message(no_network):
    spec = get_spec("sam2.1_s")
    start = time.monotonic()
    with pytest.raises(WeightsError) as error:
        build_model("sam2.1_s")
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert spec.ultralytics_file in message and spec.meta_file in message  # which file
    assert "weights" in message  # where to put it
    assert spec.urls[0] in message and spec.urls[1] in message  # where to get it
    assert "\n" not in message


def test_unknown_model_and_missing_path():
    with pytest.raises(WeightsError, match="unknown SAM2 model"):
        get_spec("sam3_t")
    with pytest.raises(WeightsError, match="weights file not found"):
        resolve_weights("sam2.1_t", "/nonexistent/file.pt")
