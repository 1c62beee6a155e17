"""`autotrack bench` on a tiny synthetic clip: JSON with every run's figures and per-frame series, and a PNG plot;
its JSON reports read back, and the README's speed tables rendered from the reports in benchmarks/results/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autotrack.bench import (
    MB,
    PIPELINE_STAGES,
    ULTRALYTICS,
    Clip,
    RunResult,
    bench_config,
    load_results,
    pipeline_contenders,
    ratios,
    report_dict,
    run_rounds,
    runtime_pairs,
    speed_tables,
    summarize_rounds,
)
from autotrack.cli import main

FRAMES = 5
ROOT = Path(__file__).resolve().parents[1]


def test_run_result_summary_leaves_out_warmup_and_aligns_stages():
    run = RunResult("r", warmup=1)
    run.add(1.0, {"decode": 0.5}, 100 * MB)  # warm-up frame
    run.add(0.2, {"decode": 0.1, "prompter": 0.1}, 110 * MB)
    run.add(0.4, {"decode": 0.1}, 130 * MB)  # the prompter did not run on this frame
    summary = run.summary()
    assert summary["frames"] == 2
    assert summary["fps"] == pytest.approx(1 / 0.3)
    assert summary["fps_without_decode"] == pytest.approx(1 / 0.2)
    assert summary["stages_ms"] == pytest.approx({"decode": 100.0, "prompter": 50.0})
    assert run.stages["prompter"] == [0.0, 0.1, 0.0]
    assert summary["peak_rss_mb"] == 130 and summary["rss_growth_mb"] == 30


def test_bench_writes_json_and_plot(tmp_path):
    args = ["bench", "--frames", FRAMES, "--warmup", 2, "--rounds", 2, "--imgsz", 64, "--objects", 3,
            "--sam-weights", "random", "--device", "cpu", "--set", "sam.precision=bf16",
            "--json", tmp_path / "bench.json", "--plot", tmp_path / "bench.png"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output

    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["settings"]["frames"] == FRAMES and report["settings"]["objects"] == 3
    assert list(report["runs"]) == ["autotrack sam2.1_t bf16", "autotrack sam2.1_t fp32", ULTRALYTICS]
    for name, run in report["runs"].items():
        assert run["frames"] == 2 * (FRAMES - 2) and len(run["rounds"]) == len(run["fps_rounds"]) == 2
        for one in run["rounds"]:
            assert len(one["per_frame"]["ms"]) == len(one["per_frame"]["rss_mb"]) == FRAMES
            assert one["fps"] > 0 and one["peak_rss_mb"] > 0
            # the stages account for the whole frame time, no more and no less
            assert sum(one["stages_ms"].values()) == pytest.approx(one["ms_per_frame"], rel=1e-6)
        assert sum(run["stages_ms"].values()) == pytest.approx(run["ms_per_frame"], rel=1e-6)
    ours = report["runs"]["autotrack sam2.1_t bf16"]
    assert set(ours["stages_ms"]) == set(PIPELINE_STAGES) - {"prompter"}  # manual-sam2 has no detector
    assert ours["memory_entries"] == {"1": 5, "2": 5, "3": 5}  # 1 conditioning + 4 recent frames
    assert set(report["runs"][ULTRALYTICS]["stages_ms"]) == {"decode", "preprocess", "inference", "postprocess"}
    assert set(report["ratios"]) == {f"autotrack sam2.1_t bf16 / {ULTRALYTICS}",
                                     f"autotrack sam2.1_t fp32 / {ULTRALYTICS}"}
    assert all(len(values) == 2 for values in report["ratios"].values())
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in report["ratios"]:
        assert f"{name}: " in result.output


def test_edgetam_is_timed_beside_sam2_tiny_in_each_precision(tmp_path):
    """`--sam edgetam`: EdgeTAM and SAM2.1-tiny in our engine, in bf16 and fp32, and the predictor on SAM2.1-tiny; the
    ratios EdgeTAM / SAM2.1-tiny pair runs of equal precision."""
    args = ["bench", "--sam", "edgetam", "--frames", 3, "--warmup", 1, "--rounds", 1, "--imgsz", 256,
            "--sam-weights", "random", "--device", "cpu", "--set", "sam.precision=bf16", "--json", tmp_path / "b.json"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["settings"]["model"] == "edgetam"
    assert list(report["runs"]) == ["autotrack edgetam bf16", "autotrack edgetam fp32", "autotrack sam2.1_t bf16",
                                    "autotrack sam2.1_t fp32", ULTRALYTICS]
    for precision in ("bf16", "fp32"):
        assert f"autotrack edgetam {precision} / autotrack sam2.1_t {precision}" in report["ratios"]
        assert f"autotrack edgetam {precision} / autotrack sam2.1_t {precision}: " in result.output
    assert all(run["fps"] > 0 for run in report["runs"].values())


def test_rounds_rotate_the_order_and_ratios_pair_runs_of_a_round():
    order = []

    def contender(name: str, seconds: list[float]):
        """A run of one frame taking the next of `seconds`."""
        rounds = iter(seconds)

        def run() -> RunResult:
            order.append(name)
            result = RunResult(name, warmup=0)
            result.add(next(rounds), {}, MB)
            return result
        return run

    results = run_rounds({"a": contender("a", [0.5, 0.25, 0.5]), "b": contender("b", [1.0, 1.0, 0.5]),
                          "c": contender("c", [1.0] * 3)}, rounds=3)
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert ratios(results, "b") == {"a": pytest.approx([2.0, 4.0, 1.0]), "c": pytest.approx([1.0, 1.0, 0.5])}
    summary = summarize_rounds(results["a"])
    assert summary["fps_rounds"] == pytest.approx([2.0, 4.0, 2.0])
    assert summary["spread"] == pytest.approx((4.0 - 2.0) / 2.0)
    assert summary["ms_per_frame"] == pytest.approx(1000 * (0.5 + 0.25 + 0.5) / 3)


@pytest.mark.parametrize("args, message", [
    (["--frames", "3", "--warmup", "3"], "leaves no frame"),
    (["--objects", "9"], "--objects"),
    (["does-not-exist.mp4"], "does-not-exist.mp4"),
])
def test_bad_options_are_one_line_errors(args, message):
    result = CliRunner().invoke(main, ["bench", *args, "--sam-weights", "random", "--imgsz", "64"])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_random_weights_keep_every_prompted_object():
    """Random masks overlap almost fully; without this the 3-object bench would time one object after max_lost."""
    config = bench_config("manual-sam2", {"sam.weights": "random", "sam.imgsz": 64})
    assert config.identity.overlap_iou == 1.0 and config.identity.max_lost >= 10**9
    given = {"sam.weights": "random", "identity.max_lost": 5}
    assert bench_config("manual-sam2", given).identity.max_lost == 5
    assert bench_config("manual-sam2", {"sam.imgsz": 64}).identity.overlap_iou == 0.8  # real weights: real rules


@pytest.mark.parametrize("model, names", [
    ("sam2.1_s", ["autotrack sam2.1_s fp32", ULTRALYTICS]),
    ("edgetam", ["autotrack edgetam fp32", "autotrack sam2.1_t fp32", ULTRALYTICS]),
    ("sam3", ["autotrack sam3 fp32", "autotrack sam2.1_t fp32", ULTRALYTICS]),
    ("sam2.1_t/openvino", ["autotrack sam2.1_t fp32", "autotrack sam2.1_t openvino fp32", ULTRALYTICS]),
])
def test_the_predictor_runs_the_model_its_spec_allows_else_sam2_tiny_beside_it(model, names):
    """Only the contenders are built (nothing runs): a model ultralytics' predictor cannot run gets SAM2.1-tiny; a
    graph runtime runs beside torch."""
    model, _, runtime = model.partition("/")
    config = bench_config("manual-sam2", {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu", "sam.model": model,
                                           "sam.precision": "fp32", "sam.runtime": runtime or "torch"})
    clip = Clip(Path("clip.mp4"), np.zeros((1, 4), np.float32), 3)
    assert list(pipeline_contenders(clip, config, Path("w.pt"))) == names


def test_a_json_report_reads_back_by_model_and_precision(tmp_path):
    def run(name: str, seconds: float) -> list[RunResult]:
        result = RunResult(name, warmup=0)
        result.add(seconds, {}, MB)
        return [result]

    results = {"autotrack m bf16 (auto)": run("a", 0.25), "autotrack m fp32": run("b", 0.5), ULTRALYTICS: run("u", 1.0)}
    settings = {"model": "m", "imgsz": 64, "objects": 2}
    (tmp_path / "m.json").write_text(json.dumps(report_dict(results, settings, ULTRALYTICS)))
    (back,) = load_results(tmp_path)
    assert back.model == "m" and back.key == (64, 2)
    assert back.run_name("m") == back.run_name("m", "bf16") == "autotrack m bf16 (auto)"
    assert back.fps(back.run_name("m", "fp32")) == pytest.approx(2.0)
    assert back.ratio("autotrack m bf16 (auto)", ULTRALYTICS) == pytest.approx([4.0])
    with pytest.raises(KeyError):
        back.run_name("m", "fp16")


def readme_table_rows(name: str) -> list[str]:
    """The rows of the table between the `speed-table:NAME` markers in the README or a docs page (exactly one),
    after the header and its rule."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    start, end = f"<!-- speed-table:{name}:start -->\n", f"<!-- speed-table:{name}:end -->"
    marked = [page.read_text() for page in pages if start in page.read_text()]
    assert len(marked) == 1, f"{len(marked)} pages hold the {name} speed table"
    text = marked[0]
    assert end in text, f"the {name} speed table has no end marker"
    table = text.split(start, 1)[1].split(end, 1)[0].splitlines()
    return table[2:]


def test_readme_speed_tables_are_the_result_files():
    """Regenerate with `python benchmarks/update_figures.py` after adding a result."""
    tables = speed_tables(load_results(ROOT / "benchmarks" / "results"))
    assert all(tables.values())
    for name, rows in tables.items():
        assert readme_table_rows(name) == rows, name


def test_sam3_is_timed_beside_sam2_tiny_at_the_nearest_size_it_takes(tmp_path, monkeypatch):
    """`--sam sam3` (a tiny random checkpoint folder) runs beside SAM2.1-tiny, which takes the nearest input size
    it can (SAM 3's 1008 -> 1024); on a CPU the bench first says what SAM 3 costs there."""
    import torch
    from test_sam3 import IMGSZ, random_checkpoint

    from autotrack.bench.runners import baseline_imgsz
    from autotrack.models.sam2.build import build_model

    assert (baseline_imgsz(1008), baseline_imgsz(IMGSZ), baseline_imgsz(14)) == (1024, IMGSZ, 32)
    torch.save(build_model("sam2.1_t", "random").state_dict(), tmp_path / "sam2.1_t.pt")
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(tmp_path))
    folder = random_checkpoint(tmp_path / "sam3")
    args = ["bench", "--sam", "sam3", "--sam-weights", folder, "--imgsz", IMGSZ, "--frames", 3, "--warmup", 1,
            "--rounds", 1, "--device", "cpu", "--precision", "fp32", "--no-ultralytics", "--json", tmp_path / "b.json"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output
    assert result.output.count("sam3 is a model for a GPU") == 1
    report = json.loads((tmp_path / "b.json").read_text())
    assert list(report["runs"]) == ["autotrack sam3 fp32", "autotrack sam2.1_t fp32"]
    assert "autotrack sam3 fp32 / autotrack sam2.1_t fp32" in report["ratios"]
    assert all(run["fps"] > 0 for run in report["runs"].values())


def test_a_graph_runtime_run_is_compared_with_the_torch_run_in_the_configured_precision():
    names = ["autotrack edgetam fp32 (auto)", "autotrack edgetam openvino int8", "autotrack sam2.1_t fp32 (auto)"]
    assert runtime_pairs(names, "edgetam", "openvino") == {
        "autotrack edgetam openvino int8": "autotrack edgetam fp32 (auto)"}
    assert runtime_pairs(names, "edgetam", "torch") == {}
    assert runtime_pairs(["autotrack sam2.1_t bf16 (auto)", "autotrack sam2.1_t fp32",
                                "autotrack sam2.1_t onnxruntime fp32"], "sam2.1_t", "onnxruntime") == {
        "autotrack sam2.1_t onnxruntime fp32": "autotrack sam2.1_t bf16 (auto)"}
