"""The learned re-ID embedder (`reid.embedder: timm:<model>`): unit vectors from box crops, the same look gives the
same vector, its vectors fill the galleries and revive a returning object in a pipeline, and its configuration
errors are one line before any model loads. Random weights (`reid.embedder_weights: random`): no network here."""

from __future__ import annotations

import sys

import cv2
import huggingface_hub.constants
import numpy as np
import pytest
import torch
from fakes import FunctionPrompter, ScriptedEngine, moving_box, world_detections
from safetensors.torch import save_file

from autotrack.config import ConfigError, from_dict
from autotrack.errors import InputError
from autotrack.identity import IdentityConfig, IdentityManager
from autotrack.pipeline import Pipeline
from autotrack.pipeline.build import check_weights, models_key
from autotrack.reid import Reidentifier
from autotrack.reid.embedder import load_embedder
from autotrack.weights import WeightsError

RANDOM = {"enabled": True, "embedder": "timm:resnet18", "embedder_weights": "random"}


def reid_config(**values):
    return from_dict({"detector": None, "sam": {"weights": "random"}, "reid": {**RANDOM, **values}})


@pytest.fixture(scope="module")
def embedder():
    torch.manual_seed(0)
    return load_embedder(reid_config().reid, "cpu")


def textured(seed: int, size: tuple[int, int] = (40, 40)) -> np.ndarray:
    """A patch of its own colours and texture: a synthetic object's look."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 3)
    return np.clip(base + rng.integers(-60, 60, (*size, 3)), 0, 255).astype(np.uint8)


def scene(patches: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """A grey frame with each patch pasted at its box (x0, y0)."""
    frame = np.full((240, 320, 3), 90, np.uint8)
    for patch, box in patches.values():
        x0, y0 = int(box[0]), int(box[1])
        frame[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
    return frame


def test_unit_vectors_one_per_box_the_same_look_gives_the_same_vector(embedder):
    a, b = textured(1), textured(2)
    box_a, box_b, box_a2 = (np.array(box, np.float32) for box in ([20, 100, 60, 140], [200, 20, 240, 60],
                                                                  [150, 150, 190, 190]))
    frame = scene({1: (a, box_a), 2: (b, box_b), 3: (a, box_a2)})
    vectors = embedder(frame, np.stack([box_a, box_b, box_a2]))

    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[2] == pytest.approx(1.0, abs=1e-4)  # the same look elsewhere in the frame
    assert vectors[0] @ vectors[1] < 0.999 and not np.allclose(vectors[0], vectors[1], atol=1e-3)
    assert embedder(frame, np.zeros((0, 4))).shape == (0, 512)


def test_boxes_at_and_beyond_the_frame_edge_still_give_a_vector(embedder):
    frame = scene({1: (textured(3), np.array([0, 0]))})
    vectors = embedder(frame, np.array([[-10, -5, 30, 30], [310, 230, 400, 300], [5, 5, 5, 5]], np.float32))
    assert vectors.shape == (3, 512) and np.isfinite(vectors).all()


def test_a_pipeline_with_the_learned_embedder_fills_galleries_and_revives_a_returning_object(embedder):
    world = {"a": moving_box((20, 100, 60, 140), 60, velocity=(1, 0), hidden=range(5, 45)),
             "b": moving_box((200, 20, 240, 60), 60)}
    looks = {"a": textured(1), "b": textured(2)}
    frames = [scene({i: (looks[name], boxes[f]) for i, (name, boxes) in enumerate(world.items())
                     if boxes[f] is not None}) for f in range(60)]
    engine = ScriptedEngine(world)  # reports no embedding of its own: the embedder's are the only ones
    identity = IdentityManager(IdentityConfig(max_lost=30), Reidentifier(reid_config().reid))
    prompter = FunctionPrompter(lambda frame, f: world_detections(world, f))
    pipeline = Pipeline(frames, prompter, engine, identity=identity, embedder=embedder)
    results = list(pipeline.stream())

    assert [(e.kind, e.tracker_id) for e in results[45].events] == [("reidentified", 1)]
    assert results[59].detections.tracker_id.tolist() == [1, 2]
    assert len(identity.reid.gallery(1)) >= 1 and len(identity.reid.gallery(2)) >= 1


def test_config_names_the_embedder_and_keys_the_models_by_it():
    assert reid_config().reid.timm_model == "resnet18"
    assert reid_config(embedder="timm").reid.timm_model == "resnet18"  # the default learned embedder
    assert from_dict({}).reid.embedder == "free" and from_dict({}).reid.timm_model is None
    with pytest.raises(ConfigError, match=r"reid.embedder must be free or timm:<model name> .*got 'osnet'"):
        from_dict({"reid": {"embedder": "osnet"}})
    assert models_key(reid_config()).embedder == ("resnet18", "random")
    assert models_key(reid_config(enabled=False)).embedder == ()
    assert load_embedder(reid_config(embedder="free").reid) is None


def test_an_unknown_timm_model_is_one_line_before_anything_loads():
    with pytest.raises(InputError, match=r"timm has no model 'resnet_nope'; list names with .*list_pretrained"):
        load_embedder(reid_config(embedder="timm:resnet_nope").reid)


def test_timm_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm fails as when it is not installed
    with pytest.raises(InputError, match=r'needs timm: pip install "autotrack\[reid\]"'):
        load_embedder(reid_config().reid)


def test_offline_without_weights_is_one_line_naming_where_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOTRACK_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    config = reid_config(embedder_weights=None)
    expected = (r"weights for timm model 'resnet18' not found and cannot be downloaded \(no network\)\. Get "
                r"model\.safetensors from https://huggingface\.co/timm/resnet18\.\S+ and set reid\.embedder_weights")
    with pytest.raises(WeightsError, match=expected):
        load_embedder(config.reid)
    with pytest.raises(WeightsError, match=r"\(for a smoke run without weights: --set reid.embedder_weights=random\)"):
        check_weights(config)


def test_weights_from_a_local_checkpoint_file(tmp_path):
    import timm

    torch.manual_seed(1)
    reference = timm.create_model("resnet18", pretrained=False)  # a full checkpoint, classifier included
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    loaded = load_embedder(reid_config(embedder_weights=str(tmp_path / "resnet18.pth")).reid, "cpu")
    assert torch.equal(loaded.model.conv1.weight, reference.conv1.weight)
    save_file(reference.state_dict(), tmp_path / "model.safetensors")  # as the hub's timm pages have it
    loaded = load_embedder(reid_config(embedder_weights=str(tmp_path / "model.safetensors")).reid, "cpu")
    assert torch.equal(loaded.model.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)

    with pytest.raises(WeightsError, match="weights file not found: .*missing.safetensors"):
        load_embedder(reid_config(embedder_weights=str(tmp_path / "missing.safetensors")).reid)

    (tmp_path / "other.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="is not a PyTorch checkpoint"):
        load_embedder(reid_config(embedder_weights=str(tmp_path / "other.pth")).reid)
    torch.save(timm.create_model("resnet34", pretrained=False).state_dict(), tmp_path / "resnet34.pth")
    with pytest.raises(WeightsError, match=r"cannot load the weights of timm model 'resnet18' from .*resnet34\.pth"):
        load_embedder(reid_config(embedder_weights=str(tmp_path / "resnet34.pth")).reid)


def test_the_command_line_runs_the_learned_embedder_and_refuses_an_unknown_model_in_one_line(tmp_path):
    from click.testing import CliRunner

    from autotrack.cli import main

    folder = tmp_path / "frames"
    folder.mkdir()
    for f in range(3):
        cv2.imwrite(str(folder / f"{f:03d}.png"), scene({1: (textured(1), np.array([20 + f, 20]))}))
    common = ["track", str(folder), "--sam-weights", "random", "--detector", "random", "--imgsz", "64",
              "--box", "20,20,60,60", "--set", "reid.enabled=true", "--max-frames", "3"]
    result = CliRunner().invoke(main, [*common, "--set", "reid.embedder=timm:resnet_nope"])
    assert result.exit_code == 1 and "timm has no model 'resnet_nope'" in result.output
    mot = tmp_path / "o.txt"
    result = CliRunner().invoke(main, [*common, "--set", "reid.embedder=timm:resnet18", "--set",
                                       "reid.embedder_weights=random", "--mot", str(mot)])
    assert result.exit_code == 0, result.output
    assert [line.split(",")[:2] for line in mot.read_text().splitlines()] == [["1", "1"], ["2", "1"], ["3", "1"]]
