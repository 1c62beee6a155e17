"""The YOLO detector on a graph runtime: exported once by ultralytics' exporter into the export cache, its detections
those of the torch detector, and a pipeline with `--runtime openvino` detecting through it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.config import load_config
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.models import load_engine
from autotrack.pipeline.build import exports_detector, models_key
from autotrack.prompters.yolo import YoloPrompter
from autotrack.runtimes import detector, load
from autotrack.runtimes.detector import exported_detector
from random_weights import calibrate_batch_norms

IMGSZ = 96  # the detector's input size: small, a multiple of its stride 32
FRAMES = 3


def busy_detector(path: Path) -> Path:
    """yolo11n with random weights that detects: every batch norm calibrated on a batch of noise images, the heads
    scaled so that some boxes of varied classes, sizes and confidences pass conf 0.25, and the box bins biased
    towards small boxes."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    net = model.model
    calibrate_batch_norms(net, torch.rand(2, 3, IMGSZ, IMGSZ))
    net.eval()
    with torch.no_grad():
        head = net.model[-1]
        for classes, boxes in zip(head.cv3, head.cv2):
            classes[-1].weight.mul_(0.01)
            classes[-1].bias.fill_(-2.0)
            boxes[-1].weight.mul_(0.03)
            boxes[-1].bias.copy_(-0.5 * torch.arange(16.0).repeat(4))  # DFL bins: the first ones likelier
    model.save(path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return busy_detector(tmp_path_factory.mktemp("detector") / "busy.pt")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache") / "exports"


@pytest.fixture
def cache(shared_cache, monkeypatch) -> Path:
    """The export cache of this module's tests: what one exports, the next reuses."""
    monkeypatch.setattr(load, "EXPORTS_DIR", shared_cache)
    return shared_cache


@pytest.mark.parametrize("runtime, fmt, export", [("openvino", "openvino", "detector_openvino_model"),
                                                  ("onnxruntime", "onnx", "detector.onnx")])
def test_the_exported_detector_finds_what_the_torch_one_finds_and_is_exported_once(weights, cache, monkeypatch,
                                                                                    caplog, runtime, fmt, export):
    with caplog.at_level(logging.WARNING):
        path = exported_detector(str(weights), runtime, IMGSZ)
    assert [record.getMessage().split(" into ")[0] for record in caplog.records] == [
        f"exporting detector {weights} at {IMGSZ} px for {runtime}"]
    folder = Path(path).parent
    assert Path(path).name == export and folder.parent == cache / "detectors"
    assert folder.name.startswith(f"busy-{IMGSZ}-{fmt}-fp32-")  # then the weights' checksum
    assert not [item for item in folder.parent.iterdir() if item.name.startswith(".")]  # no partial folder left

    options = dict(conf=0.25, imgsz=IMGSZ, device="cpu")
    torch_detector = YoloPrompter(str(weights), **options)
    exported = YoloPrompter(str(weights), **options, exported=path)
    assert exported.model.predictor.model.format == fmt and exported.names == torch_detector.names
    scenario = make_scenario("crossing", n_frames=FRAMES, size=(160, 120), seed=0)
    for index in range(FRAMES):
        frame, _ = render_frame(scenario, index)
        expected, found = torch_detector(frame, index), exported(frame, index)
        assert len(expected) >= 3 and len(set(expected.class_id)) >= 2  # the test can fail
        assert found.class_id.tolist() == expected.class_id.tolist()
        np.testing.assert_allclose(found.xyxy, expected.xyxy, atol=0.5)
        np.testing.assert_allclose(found.confidence, expected.confidence, atol=1e-3)

    caplog.clear()
    monkeypatch.setattr(detector, "_export", lambda *args: pytest.fail("exported again"))
    assert exported_detector(str(weights), runtime, IMGSZ) == path
    assert caplog.records == []


def test_a_failed_export_is_one_line_and_leaves_no_folder(weights, tmp_path, monkeypatch):
    from ultralytics import YOLO

    monkeypatch.setattr(load, "EXPORTS_DIR", tmp_path / "exports")

    def export(self, **options):
        raise RuntimeError("converter crashed\nTraceback ...")

    monkeypatch.setattr(YOLO, "export", export)
    with pytest.raises(detector.ExportError, match="^cannot export the detector for onnx: converter crashed$"):
        exported_detector(str(weights), "onnxruntime", IMGSZ)
    assert list((tmp_path / "exports" / "detectors").iterdir()) == []


def test_track_with_a_runtime_detects_through_the_exported_detector(weights, cache, tmp_path, monkeypatch):
    """The command line on `--runtime openvino`: the detector exported into the cache and run by OpenVINO. The
    model's own stages come from the torch engine here (tests/test_runtimes.py exports and runs them)."""
    clip = write_scenario(make_scenario("crossing", n_frames=FRAMES, size=(160, 120), seed=0), tmp_path).video
    monkeypatch.setattr(load, "load_exported", lambda runtime, model, weights, imgsz, device, precision:
                        load_engine(model, "random", imgsz, "cpu", "fp32"))
    formats = []
    detect = YoloPrompter._detect
    monkeypatch.setattr(YoloPrompter, "_detect",
                        lambda self, frame: formats.append(self.model.predictor.model.format) or detect(self, frame))
    result = CliRunner().invoke(main, [
        "track", str(clip), "-p", "edge-cpu", "--runtime", "openvino", "--detector", str(weights),
        "--sam", "sam2.1_t", "--sam-weights", "random", "--imgsz", "256", "--set", f"detector.imgsz={IMGSZ}", "--set", "detector.every=1",
        "--max-frames", str(FRAMES), "--mot", str(tmp_path / "out.txt")])
    assert result.exit_code == 0, result.output
    assert formats == ["openvino"] * FRAMES
    assert (tmp_path / "out.txt").read_text().strip()  # tracked objects, born from the exported detector's boxes


def test_only_a_closed_set_yolo_on_a_graph_runtime_is_exported_and_its_input_size_keys_it():
    def config(**overrides):
        return load_config("edge-cpu", {"sam.weights": "random", **overrides})

    assert exports_detector(config(**{"sam.runtime": "openvino"}))
    assert not exports_detector(config())  # torch
    assert not exports_detector(config(**{"sam.runtime": "openvino", "detector.weights": "yoloe-11s-seg.pt"}))
    assert not exports_detector(config(**{"sam.runtime": "openvino", "detector.weights": "sam3"}))
    exported = [models_key(config(**{"sam.runtime": "openvino", "detector.imgsz": size})) for size in (320, 480)]
    in_torch = [models_key(config(**{"detector.imgsz": size})) for size in (320, 480)]
    assert exported[0].detector != exported[1].detector and in_torch[0] == in_torch[1]
