"""The one-line advice when a run's model and input size ran slowly on a CPU: given there, and only there, from the
figures of the bench results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autotrack import advice
from autotrack.advice import faster_pipeline_note
from autotrack.bench import load_results, speed_figures
from autotrack.cli import main
from autotrack.config import load_config

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.mark.parametrize("pipeline, overrides, device, advised", [
    ("yolo-sam2", {}, "cpu", True),
    ("manual-sam2", {"sam.imgsz": 512}, "cpu", False),
    ("yolo-sam2", {}, "cuda", False),
    ("yolo-sam2", {}, "mps", False),
    ("fast-cpu", {}, "cpu", False),
    ("edge-cpu", {}, "cpu", False),
    ("manual-sam2", {"sam.model": "sam2.1_b"}, "cpu", False),  # not measured: the advice speaks from figures only
])
def test_note_only_for_a_run_measured_slow_on_a_cpu(pipeline, overrides, device, advised):
    note = faster_pipeline_note(load_config(pipeline, overrides), device)
    assert (note is not None) == advised
    if advised:
        assert "-p edge-cpu" in note and "-p fast-cpu" in note and "\n" not in note
        assert "about 0.33 frames/s" in note and "about 4x faster" in note and "about 6x faster" in note


@pytest.mark.parametrize("pipeline", ["yolo-sam2", "manual-sam2"])
def test_sam3_on_a_cpu_says_what_it_costs_and_which_pipeline_to_prefer(pipeline):
    config = load_config(pipeline, {"sam.model": "sam3", "sam.imgsz": 1008})
    note = faster_pipeline_note(config, "cpu")
    assert "sam3 is a model for a GPU" in note and "5,400 GFLOP" in note and "\n" not in note
    assert "prefer -p fast-cpu (sam2.1_t at imgsz 512) about 2.0 frames/s, -p edge-cpu (edgetam at imgsz 1024)" in note
    assert faster_pipeline_note(config, "cuda") is None


def test_the_shipped_figures_are_the_result_files():
    """Regenerate with `python benchmarks/update_figures.py` after adding a result."""
    results = load_results(RESULTS)
    assert json.loads(advice.FIGURES.read_text()) == speed_figures(results)
    figures = advice.cpu_fps()
    assert len(figures) == len(results)
    for result in results:
        key = (result.model, result.settings["imgsz"], result.settings["objects"])
        assert figures[key] == result.fps(result.run_name(result.model))


def test_the_note_follows_the_figures(tmp_path, monkeypatch):
    """With figures where EdgeTAM is the slow one, the EdgeTAM pipeline gets the note and names the SAM2 ones."""
    runs = [{"model": "edgetam", "imgsz": 1024, "objects": 1, "fps": 0.2},
            {"model": "sam2.1_t", "imgsz": 1024, "objects": 1, "fps": 0.5},
            {"model": "sam2.1_t", "imgsz": 512, "objects": 1, "fps": 0.3}]
    monkeypatch.setattr(advice, "FIGURES", tmp_path / "figures.json")
    advice.FIGURES.write_text(json.dumps({"runs": runs}))
    assert faster_pipeline_note(load_config("yolo-sam2"), "cpu") is None
    note = faster_pipeline_note(load_config("edge-cpu"), "cpu")
    assert note is not None and "edgetam at imgsz 1024" in note and "-p yolo-sam2" in note
    assert "-p fast-cpu" not in note  # 1.5x is not enough


def test_track_prints_the_note_once_before_the_run(data_dir):
    result = CliRunner().invoke(main, ["track", str(data_dir / "videos" / "bedroom.mp4"), "-p", "manual-sam2",
                                       "--sam-weights", "random", "--device", "cpu", "--box", "290,110,480,420",
                                       "--max-frames", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("-p edge-cpu") == 1


def test_fp16_on_a_cpu_says_it_is_slower_and_what_auto_picks():
    from autotrack.advice import precision_note

    note = precision_note("fp16", "cpu")
    assert "fp16 runs slower than fp32 on a CPU" in note and "--precision auto picks" in note
    assert precision_note("fp16", "cuda") is None and precision_note("bf16", "cpu") is None
