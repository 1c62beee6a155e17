"""`autotrack bench --runtime openvino --sam-weights EXPORTED`: the runtime runs the exported folder and PyTorch the
weights it was exported from; a folder the bench cannot run is a one-line error before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import autotrack.bench.runners as runners
import autotrack.models
import autotrack.runtimes.load
from autotrack import __version__
from autotrack.bench import ULTRALYTICS, Clip, bench_config, pipeline_contenders, sam2_weights_file
from autotrack.cli import main
from autotrack.models import build_parts, load_engine
from autotrack.runtimes.export import export_stages, weights_checksum
from autotrack.runtimes.load import exported_weights, load_torch_reference
from autotrack.runtimes.manifest import WEIGHTS, Manifest
from autotrack.runtimes.parts import GraphParts

MODEL, IMGSZ = "sam2.1_t", 64


def moved(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with every parameter moved off its seeded random value: a model that loaded random weights instead
    of the folder's differs from it everywhere."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 1e-3)
    return model


def manifest_only(folder: Path, **changes) -> Path:
    """A folder with only a manifest, as `autotrack export` writes one (sam2.1_t at 64 px, openvino, fp32)."""
    folder.mkdir(parents=True)
    values = dict(format="openvino", family="sam2", model=MODEL, imgsz=IMGSZ, precision="fp32",
                  weights_sha256="0" * 64, stages={}, autotrack=__version__)
    Manifest(**{**values, **changes}).write(folder)
    return folder


def same_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    mine = model.state_dict()
    return mine.keys() == state.keys() and all(torch.equal(mine[key], state[key]) for key in state)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """SAM2.1-tiny at 64 px exported for OpenVINO in fp32, from weights that are not the seeded random ones."""
    engine = load_engine(MODEL, "random", IMGSZ, "cpu", "fp32")
    moved(engine.parts.model)
    folder = tmp_path_factory.mktemp("export") / "sam2.1_t-64"
    export_stages(engine.parts, engine.family.name, MODEL, IMGSZ, "openvino", "fp32", folder)
    return folder


@pytest.fixture
def no_model_loads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(autotrack.models, "build_parts", refuse)
    monkeypatch.setattr(autotrack.runtimes.load, "build_parts", refuse)


def test_the_runtime_runs_the_folder_and_torch_the_weights_it_was_exported_from(exported, tmp_path, monkeypatch):
    engines = {}
    load_models = runners.load_models

    def recorded(config, engine=None):
        models = load_models(config, engine)
        engines[config.sam.runtime] = models.engine
        return models

    def no_cache_export(*args, **kwargs):
        raise AssertionError("exported into the cache instead of running the folder")

    monkeypatch.setattr(runners, "load_models", recorded)
    monkeypatch.setattr(autotrack.runtimes.load, "export_stages", no_cache_export)
    args = ["bench", "--sam", MODEL, "--imgsz", IMGSZ, "--objects", 2, "--runtime", "openvino", "--sam-weights",
            exported, "--frames", 3, "--warmup", 1, "--rounds", 1, "--no-ultralytics", "--device", "cpu",
            "--precision", "fp32", "--json", tmp_path / "bench.json"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "bench.json").read_text())
    assert list(report["runs"]) == [f"autotrack {MODEL} fp32", f"autotrack {MODEL} openvino fp32"]

    saved = exported_weights(exported)
    assert not same_weights(build_parts(MODEL, "random", IMGSZ, torch.device("cpu"), torch.float32).model, saved)
    assert not isinstance(engines["torch"].parts, GraphParts) and same_weights(engines["torch"].parts.model, saved)
    assert isinstance(engines["openvino"].parts, GraphParts) and same_weights(engines["openvino"].parts.model, saved)


def test_ultralytics_predictor_reads_the_folders_weights_file(exported, tmp_path):
    config = bench_config("manual-sam2", {"sam.model": MODEL, "sam.imgsz": IMGSZ, "sam.weights": str(exported),
                                          "sam.runtime": "openvino", "device": "cpu"})
    assert sam2_weights_file(config, tmp_path).resolve() == (exported / WEIGHTS).resolve()


def test_edgetam_in_torch_loads_the_weights_of_its_reparameterised_parts(tmp_path):
    """EdgeTAM's `weights.pt` is the state of the parts its family built (RepViT folded): it loads into those
    parts, not into a freshly built model; nothing here reads graphs, so the folder holds none."""
    imgsz = 256
    parts = build_parts("edgetam", "random", imgsz, torch.device("cpu"), torch.float32)
    folder = manifest_only(tmp_path / "edgetam", family="edgetam", model="edgetam", imgsz=imgsz)
    torch.save(moved(parts.model).state_dict(), folder / WEIGHTS)
    engine = load_torch_reference(folder, "edgetam", imgsz, "cpu", "fp32")
    assert same_weights(engine.parts.model, exported_weights(folder))


def test_an_int8_folder_names_its_precision_and_torch_runs_its_weights(tmp_path):
    """Only the contenders are built (nothing runs; the folder holds only a manifest saying int8)."""
    folder = manifest_only(tmp_path / "int8", family="edgetam", model="edgetam", imgsz=256, precision="int8")
    config = bench_config("manual-sam2", {"sam.model": "edgetam", "sam.imgsz": 256, "sam.weights": str(folder),
                                          "sam.runtime": "openvino", "device": "cpu"})
    clip = Clip(Path("clip.mp4"), np.zeros((1, 4), np.float32), 3)
    contenders = pipeline_contenders(clip, config, Path("w.pt"))
    runtime = contenders["autotrack edgetam openvino int8"]
    assert runtime.args[1].sam.weights == str(folder)
    torch_runs = [run for name, run in contenders.items() if name.startswith("autotrack edgetam ") and run != runtime]
    assert torch_runs and all(run.args[1].sam.weights == str(folder / WEIGHTS) for run in torch_runs)
    assert all(run.args[5].func is load_torch_reference and run.args[5].args[0] == str(folder) for run in torch_runs)
    baseline = [run for name, run in contenders.items() if name.startswith("autotrack sam2.1_t ")]
    assert baseline and all(run.args[1].sam.weights == "w.pt" and run.args[5] is None for run in baseline)
    assert ULTRALYTICS in contenders


def test_a_folder_of_random_weights_keeps_every_object_as_random_weights_do(tmp_path):
    random = build_parts(MODEL, "random", IMGSZ, torch.device("cpu"), torch.float32).model
    overrides = {"sam.model": MODEL, "sam.imgsz": IMGSZ, "sam.runtime": "openvino"}
    folder = manifest_only(tmp_path / "random", weights_sha256=weights_checksum(random))
    assert bench_config("manual-sam2", {**overrides, "sam.weights": str(folder)}).identity.overlap_iou == 1.0
    other = manifest_only(tmp_path / "other")
    assert bench_config("manual-sam2", {**overrides, "sam.weights": str(other)}).identity.overlap_iou == 0.8


@pytest.mark.parametrize("changes, args, message", [
    ({}, ["--runtime", "torch"], "holds exported graphs: run it with --runtime openvino or onnxruntime"),
    ({"imgsz": 128}, [], "was exported for imgsz 128, this run has 64"),
    ({"model": "edgetam"}, [], "was exported for model edgetam, this run has sam2.1_t"),
    ({"precision": "int8"}, ["--precision", "fp32"], "was exported for precision int8, this run has fp32"),
])
def test_a_folder_the_bench_cannot_run_is_one_line_before_any_model_loads(tmp_path, no_model_loads, changes, args,
                                                                          message):
    folder = manifest_only(tmp_path / "graphs", **changes)
    result = CliRunner().invoke(main, ["bench", "--sam", MODEL, "--imgsz", str(IMGSZ), "--sam-weights", str(folder),
                                       "--runtime", "openvino", *args, "--rounds", "1", "--no-ultralytics"])
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output
