"""Choosing a runtime and an exported folder: the config and command-line checks, each one line before any model
loads (nothing here exports; tests/test_runtimes.py does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import autotrack.runtimes as runtimes
from autotrack import __version__
from autotrack.cli import main
from autotrack.config import ConfigError, load_config
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.runtimes.manifest import Manifest
from autotrack.runtimes.openvino import device_name
from autotrack.runtimes.onnxruntime import CPU, providers


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_scenario(make_scenario("crossing", n_frames=3, size=(160, 120), seed=0),
                          tmp_path_factory.mktemp("clip")).video


def exported(folder: Path, **changes) -> Path:
    """A folder with only a manifest, as `autotrack export` writes one (sam2.1_t at 256 px, onnx, fp32)."""
    folder.mkdir(parents=True)
    values = dict(format="onnx", family="sam2", model="sam2.1_t", imgsz=256, precision="fp32",
                  weights_sha256="0" * 64, stages={}, autotrack=__version__)
    Manifest(**{**values, **changes}).write(folder)
    return folder


def track(clip: Path, *args: str):
    result = CliRunner().invoke(main, ["track", str(clip), "--box", "10,10,60,60", "--sam", "sam2.1_t",
                                       "--imgsz", "256", *args])
    return result.exit_code, result.stderr.strip()


def test_the_config_refuses_an_unknown_runtime():
    assert load_config("manual-sam2", {"sam.runtime": "openvino"}).sam.runtime == "openvino"
    with pytest.raises(ConfigError, match="runtime must be one of torch, openvino, onnxruntime, got 'tvm'"):
        load_config("manual-sam2", {"sam.runtime": "tvm"})


@pytest.mark.parametrize("runtime, extra", [("openvino", "openvino"), ("onnxruntime", "onnx")])
def test_a_runtime_without_its_package_says_what_to_install(clip, monkeypatch, runtime, extra):
    monkeypatch.setattr(runtimes, "find_spec", lambda name: None)
    code, message = track(clip, "--runtime", runtime, "--sam-weights", "random")
    assert code == 1 and len(message.splitlines()) == 1
    assert f'pip install "autotrack[{extra}]"' in message


@pytest.mark.parametrize("changes, expected", [
    ({"imgsz": 512}, "was exported for imgsz 512, this run has 256"),
    ({"model": "edgetam"}, "was exported for model edgetam, this run has sam2.1_t"),
    ({"autotrack": "0.0.1"}, "was exported for autotrack 0.0.1, this run has " + __version__),
])
def test_a_folder_exported_for_another_run_is_refused_naming_the_difference(clip, tmp_path, changes, expected):
    folder = exported(tmp_path / "graphs", **changes)
    code, message = track(clip, "--runtime", "onnxruntime", "--sam-weights", str(folder))
    assert code == 1 and len(message.splitlines()) == 1 and expected in message


def test_onnx_runtime_does_not_run_openvino_graphs_and_torch_runs_no_graphs(clip, tmp_path):
    folder = exported(tmp_path / "graphs", format="openvino")
    code, message = track(clip, "--runtime", "onnxruntime", "--sam-weights", str(folder))
    assert code == 1 and "holds openvino graphs, which this runtime does not read" in message
    code, message = track(clip, "--sam-weights", str(folder))
    assert code == 1 and "holds exported graphs: run it with --runtime openvino or onnxruntime" in message


def test_export_never_writes_among_other_files_or_onto_its_input(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me\n")
    result = CliRunner().invoke(main, ["export", "--sam", "sam2.1_t", "--imgsz", "256", "--sam-weights", "random",
                                       "--format", "onnx", str(tmp_path / "mine")])
    assert result.exit_code == 1 and "exists and is not an empty folder" in result.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    result = CliRunner().invoke(main, ["export", "--sam", "sam2.1_t", "--imgsz", "256", "--format", "onnx",
                                       "--precision", "bf16", "--sam-weights", "random", str(tmp_path / "new")])
    assert result.exit_code == 1 and "onnxruntime runs graphs in fp32, not bf16" in result.stderr
    assert not (tmp_path / "new").exists()


def test_a_gpu_asked_for_and_absent_falls_back_to_the_cpu_saying_so(caplog):
    assert providers("cpu", ["CUDAExecutionProvider", CPU]) == [CPU]
    assert providers("cuda:0", ["CUDAExecutionProvider", CPU]) == ["CUDAExecutionProvider", CPU]
    assert providers("cuda", [CPU]) == [CPU]
    assert device_name("GPU", ["CPU", "GPU.0"]) == "GPU" and device_name("auto", ["CPU", "GPU"]) == "CPU"
    assert device_name("cuda", ["CPU"]) == "CPU"
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and "no CUDA provider" in messages[0] and "no GPU device" in messages[1]


def test_without_a_folder_the_model_is_exported_into_the_cache_once_saying_so(tmp_path, monkeypatch, caplog):
    """The cache's mechanics only: exporting and compiling are replaced (tests/test_runtimes.py does them)."""
    from autotrack.runtimes import load

    exports = []

    def export_stages(parts, family, model, imgsz, fmt, precision, folder):
        exports.append(folder)
        exported(folder, format=fmt, model=model, imgsz=imgsz, precision=precision)

    monkeypatch.setattr(load, "EXPORTS_DIR", tmp_path / "exports")
    monkeypatch.setattr(load, "export_stages", export_stages)
    monkeypatch.setattr(load, "open_graphs", lambda *args: None)
    for _ in range(2):
        load.load_exported("onnxruntime", "sam2.1_t", "random", 256, "cpu", "fp32")
    assert len(exports) == 1 and exports[0].parent == tmp_path / "exports"
    assert exports[0].name.startswith("sam2.1_t-256-onnx-fp32-")  # then the weights' checksum
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1 and messages[0].startswith("exporting sam2.1_t at 256 px for onnxruntime into")


def test_openvino_graphs_answer_calls_from_several_threads_at_once(tmp_path):
    """Streams served on several compute threads share one set of compiled graphs: each call gets its own answer."""
    import threading

    import numpy as np
    import openvino
    import torch

    from autotrack.runtimes.openvino import OpenVINOGraphs

    layer = torch.nn.Linear(64, 64).eval()
    openvino.save_model(openvino.convert_model(layer, example_input=torch.zeros(1, 64)), str(tmp_path / "g.xml"),
                        compress_to_fp16=False)
    graphs = OpenVINOGraphs({"stage": tmp_path / "g.xml"}, "cpu", "fp32")
    weight, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    wrong: list[int] = []

    def calls(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(500):
            x = rng.standard_normal((1, 64)).astype(np.float32)
            if not np.allclose(graphs.run("stage", x)[0], x @ weight.T + bias, atol=1e-4):
                wrong.append(seed)

    threads = [threading.Thread(target=calls, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
