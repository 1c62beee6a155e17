"""Pipelines built in two steps: `load_models` once, then `new_session` per video, each session with its own
identity manager, point tracker and engine state on the shared models; bad sizes and weights fail before any model
loads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import autotrack.models
import autotrack.models.registry
from autotrack.config import load_config
from autotrack.errors import InputError
from autotrack.models import EngineModel
from autotrack.pipeline import build, load_models, new_session
from autotrack.prompters.manual import ManualPrompts
from autotrack.weights import WeightsError

SMALL = {"detector.weights": "random", "detector.imgsz": 64, "sam.weights": "random", "sam.imgsz": 64, "device": "cpu",
         "points.backend": "lk"}


def frames(n: int = 2) -> list[np.ndarray]:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[8:32, 8:40] = 200
    return [frame.copy() for _ in range(n)]


def test_sessions_share_the_models_loaded_once_and_nothing_else(monkeypatch):
    config = load_config("yolo-sam2", SMALL)
    models = load_models(config)
    used = []
    session = EngineModel.session
    monkeypatch.setattr(EngineModel, "session", lambda self, *args: used.append(self) or session(self, *args))
    loads = []
    monkeypatch.setattr(build, "build_prompter", lambda config: loads.append(config))
    monkeypatch.setattr(autotrack.models, "load_engine", lambda *args, **kwargs: loads.append(args))

    box = ManualPrompts.from_options(["8,8,40,32"])
    first = new_session(models, config, frames(), prompts=box)
    first.set_classes(["car"])
    first_results = list(first.stream())
    second = new_session(models, config, frames(), prompts=box)

    assert loads == []  # sessions load no model
    assert used == [models.engine, models.engine] and used[0] is used[1]
    assert first.prompter is not second.prompter and first.prompter.model is second.prompter.model is \
        models.prompter.model  # each its own classes, on one detector
    assert first.prompter.classes == [2] and second.prompter.classes is None  # the configured classes, not "car"
    assert first.tracker is not second.tracker and second.tracker.object_ids == []
    assert first.identity is not second.identity and first.points is not second.points
    second_results = list(second.stream())
    for results in (first_results, second_results):  # each session numbers its objects from 1
        assert [r.detections.tracker_id.tolist() for r in results] == [[1], [1]]


def fail_on_load(*args, **kwargs):
    raise AssertionError("a model was loaded")


@pytest.mark.parametrize("overrides, error, message", [
    ({"sam.weights": "random", "sam.imgsz": 100}, InputError, "imgsz must be a positive multiple of 32 for SAM2"),
    ({"sam.weights": "random", "sam.imgsz": 320, "sam.model": "edgetam"}, InputError,
     "imgsz must be a positive multiple of 256 for EdgeTAM"),
    ({"sam.weights": "missing.pt"}, WeightsError, "missing.pt"),
])
def test_a_bad_size_or_weights_file_fails_before_any_model_loads(monkeypatch, no_network, overrides, error, message):
    config = load_config("yolo-sam2", {"detector.weights": "random", **overrides})
    monkeypatch.setattr(build, "build_prompter", fail_on_load)
    monkeypatch.setattr(autotrack.models, "load_engine", fail_on_load)
    with pytest.raises(error, match=message):
        load_models(config)


def test_reid_on_gives_the_session_embeddings_and_the_identity_manager_a_reidentifier():
    config = load_config("yolo-sam2", {**SMALL, "points": None, "reid.enabled": True, "reid.embedding": "pointer"})
    models = load_models(config)
    on = new_session(models, config, frames(), prompts=ManualPrompts.from_options(["8,8,40,32"]))
    off = new_session(models, load_config("yolo-sam2", {**SMALL, "points": None}), frames())
    assert on.tracker.embedding == "pointer" and on.identity.reid.config is config.reid
    assert off.tracker.embedding is None and off.identity.reid is None
    list(on.stream())
    assert on.identity.reid.frame == 2  # the identity manager updated it on every frame


@pytest.mark.parametrize(("model", "extra"), [("edgetam", "edgetam"), ("sam3", "sam3")])
def test_a_family_without_its_extra_is_one_line_naming_it(monkeypatch, model, extra):
    family = autotrack.models.family_of(model)

    def build(*args):
        raise ModuleNotFoundError("No module named 'timm'", name="timm")

    # as if the extra's packages were not installed
    monkeypatch.setitem(autotrack.models.registry.FAMILIES, family.name, dataclasses.replace(family, build=build))
    with pytest.raises(autotrack.models.FamilyUnavailable) as error:
        autotrack.models.load_engine(model, "random", family.imgsz_multiple * 16, "cpu")
    assert str(error.value) == (f"{family.title} needs the {extra} extra (timm is missing): "
                                f'pip install "autotrack[{extra}]"')
