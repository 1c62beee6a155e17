"""int8 exports (OpenVINO, NNCF) calibrated on a clip, and OpenVINO's bf16 inference precision, against fp32.

EdgeTAM at 256 px (its smallest size) with random weights in which no parameter is all zeros; the int8 model is
exported once for the module and its calibration clip is reused by every test.

Random weights make masks that hang on small differences of the features, which int8 rounding moves, so the
agreement here is below what trained weights give (mean IoU 0.87 when written): the floor asserted (mean >= 0.6)
catches a broken quantization (masks from the wrong stage or inputs agree near 0); the figures are printed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import openvino
import pytest
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.models import load_engine
from autotrack.models.registry import family_of
from autotrack.runtimes.calibrate import agreement, read_calibration, track_masks
from autotrack.runtimes.export import INT8_STAGES, export_stages
from autotrack.runtimes.load import load_exported
from autotrack.runtimes.manifest import read_manifest
from random_weights import make_nonzero

pytestmark = pytest.mark.timeout(1800)  # one export with calibration: minutes on a small CPU
MODEL, IMGSZ, FRAMES = "edgetam", 256, 8
BOX = (20.0, 30.0, 90.0, 100.0)
INT8_FLOOR = 0.6


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return write_scenario(make_scenario("crossing", n_frames=FRAMES, size=(192, 160), seed=1),
                          tmp_path_factory.mktemp("clip")).video


@pytest.fixture(scope="module")
def calibration(clip):
    from autotrack import Prompt

    return read_calibration(str(clip), FRAMES, {1: Prompt(box=np.array(BOX))})


@pytest.fixture(scope="module")
def torch_engine():
    engine = load_engine(MODEL, "random", IMGSZ, "cpu", "fp32")
    make_nonzero(engine.parts.model)
    return engine


@pytest.fixture(scope="module")
def torch_masks(torch_engine, calibration):
    return track_masks(torch_engine, calibration)


@pytest.fixture(scope="module")
def int8_export(torch_engine, clip, tmp_path_factory) -> tuple[Path, str]:
    """The module's one export: `autotrack export --precision int8` calibrated on the clip, of the torch engine's
    weights (the family builds its parts: no weights file holds EdgeTAM's parts as the engine fuses them)."""
    folder = tmp_path_factory.mktemp("export") / "int8"
    family = replace(family_of(MODEL), build=lambda *args: torch_engine.parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("autotrack.runtimes.load.family_of", lambda model: family)
        patch.setattr("autotrack.models.family_of", lambda model: family)  # the export's `build_parts`
        result = CliRunner().invoke(main, ["export", "--sam", MODEL, "--sam-weights", "random", "--imgsz",
                                           str(IMGSZ), "--format", "openvino", "--precision", "int8", "--calibrate",
                                           str(clip), "--box", ",".join(map(str, BOX)), "--max-frames",
                                           str(FRAMES), str(folder)])
    assert result.exit_code == 0, result.output
    return folder, result.stdout


@pytest.fixture(scope="module")
def int8_folder(int8_export) -> Path:
    return int8_export[0]


def test_the_int8_manifest_marks_its_int8_stages_and_the_agreement_with_fp32(int8_export):
    int8_folder, output = int8_export
    manifest = read_manifest(int8_folder)
    assert manifest.precision == "int8"
    assert manifest.int8_stages == list(INT8_STAGES) == ["image_encoder"]
    for stage, name in manifest.stages.items():
        assert (int8_folder / name).is_file() and name.endswith("_int8.xml") == (stage in INT8_STAGES)
    assert "nncf" in manifest.versions
    agreed = manifest.agreement
    print(f"int8 vs fp32 on the calibration clip: mask IoU min {agreed['iou_min']}, mean {agreed['iou_mean']}, "
          f"per frame {agreed['iou']}")
    assert agreed["frames"] == len(agreed["iou"]) == FRAMES
    assert agreed["iou_min"] == min(agreed["iou"]) <= agreed["iou_mean"] <= 1
    assert agreed["iou_mean"] >= INT8_FLOOR
    assert (f"int8 (image_encoder) against fp32 on {FRAMES} calibration frames: mask IoU min "
            f"{agreed['iou_min']:.3f}, mean {agreed['iou_mean']:.3f}") in output


def test_an_int8_folder_runs_on_openvino_with_masks_near_the_torch_engines(int8_folder, calibration, torch_masks):
    engine = load_exported("openvino", MODEL, str(int8_folder), IMGSZ, "cpu")  # precision auto: the folder's
    masks = track_masks(engine, calibration)
    assert all(frame[1].any() for frame in masks), "an empty int8 mask"
    agreed = agreement(torch_masks, masks)
    print(f"int8 graphs vs the torch engine (fp32): mask IoU min {agreed['iou_min']}, mean {agreed['iou_mean']}")
    assert agreed["iou_mean"] >= INT8_FLOOR


def test_track_runs_an_int8_folder_with_runtime_openvino(int8_folder, clip, tmp_path):
    mot = tmp_path / "o.txt"
    result = CliRunner().invoke(main, ["track", str(clip), "--box", ",".join(map(str, BOX)), "--sam", MODEL,
                                       "--imgsz", str(IMGSZ), "--runtime", "openvino", "--sam-weights",
                                       str(int8_folder), "--mot", str(mot)])
    assert result.exit_code == 0, result.output
    rows = [line.split(",")[:2] for line in mot.read_text().splitlines()]
    assert rows == [[str(frame), "1"] for frame in range(1, FRAMES + 1)]


@pytest.mark.parametrize("args, message", [
    (["--precision", "int8"], "--precision int8 needs a clip to calibrate on: --calibrate VIDEO"),
    (["--precision", "int8", "--format", "onnx", "--calibrate", "clip.mp4"],
     "int8 is exported for OpenVINO only: --format openvino"),
    (["--calibrate", "clip.mp4"], "--calibrate is for int8 exports: add --precision int8"),
    (["--box", "1,2,3,4"], "--box and --max-frames choose the calibration clip's objects and frames: add --calibrate"),
])
def test_int8_export_options_are_checked_in_one_line_before_any_model_loads(tmp_path, monkeypatch, args, message):
    monkeypatch.setattr("autotrack.runtimes.load.family_of", lambda model: pytest.fail("a model was looked up"))
    result = CliRunner().invoke(main, ["export", "--sam", MODEL, "--imgsz", str(IMGSZ), *args, str(tmp_path / "x")])
    assert result.exit_code == 1 and result.stderr.strip() == f"Error: {message}"


def cpu_computes_bf16() -> bool:
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.mark.skipif(not cpu_computes_bf16(), reason="OpenVINO's CPU plugin lists no BF16 among its "
                    "OPTIMIZATION_CAPABILITIES here (no AVX512-BF16 or AMX): bf16 would run as fp32")
def test_bf16_inference_precision_agrees_with_fp32_frame_by_frame(torch_engine, calibration, torch_masks,
                                                                  tmp_path):
    folder = tmp_path / "bf16"  # a second export, on CPUs with BF16 only
    export_stages(torch_engine.parts, torch_engine.family.name, MODEL, IMGSZ, "openvino", "bf16", folder)
    masks = track_masks(load_exported("openvino", MODEL, str(folder), IMGSZ, "cpu", "bf16"), calibration)
    agreed = agreement(torch_masks, masks)
    print(f"bf16 vs fp32: mask IoU per frame {agreed['iou']}")
    assert all(frame[1].any() for frame in masks)
    assert agreed["iou_min"] >= 0.9
