"""Speed and memory of autotrack on one clip, side by side with ultralytics' SAM2VideoPredictor.

Every run reads the same video file (a given one, or a synthetic clip written first), prompts the same boxes on
frame 0 and records, for every frame, its time split by stage and the process's resident memory (RSS). The first
`warmup` frames (the prompted frame among them) are left out of the speed figures.

    clip = make_clip(None, frames=60, objects=3, work_dir="bench-work")
    results = run_rounds({"autotrack engine": lambda: run_engine(clip, tracker),
                          ULTRALYTICS: lambda: run_ultralytics(clip, weights_file, imgsz=512)}, rounds=3)
    print(format_report(results, ULTRALYTICS))

Modules: `clips` (the clip and its prompts), `timing` (a frame's time by stage), `runners` (the runs and what
`autotrack bench` compares), `stats` (summaries, rounds, ratios), `report` (text, JSON, plot, and the JSON reports
read back into the advice's figures and the README's tables). `autotrack bench` (autotrack/cli/bench.py) and
`benchmarks/bench_engine.py` drive them.
"""

from autotrack.bench.clips import SYNTHETIC_SIZE, Clip, clip_prompts, make_clip, spread_boxes
from autotrack.bench.report import (
    BenchFile,
    format_report,
    load_results,
    report_dict,
    save_plot,
    speed_figures,
    speed_tables,
)
from autotrack.bench.runners import (
    BASELINE,
    KEEP_EVERY_OBJECT,
    ULTRALYTICS,
    baseline_pairs,
    bench_config,
    pipeline_contenders,
    run_engine,
    run_pipeline,
    run_ultralytics,
    runtime_pairs,
    sam2_weights_file,
    weights_file,
)
from autotrack.bench.stats import MB, RunResult, named_ratios, pair_ratios, ratios, run_rounds, summarize_rounds
from autotrack.bench.timing import ENGINE_STAGES, PIPELINE_STAGES, FrameClock, measure

__all__ = [
    "BASELINE",
    "ENGINE_STAGES",
    "KEEP_EVERY_OBJECT",
    "MB",
    "PIPELINE_STAGES",
    "SYNTHETIC_SIZE",
    "ULTRALYTICS",
    "BenchFile",
    "Clip",
    "FrameClock",
    "RunResult",
    "baseline_pairs",
    "bench_config",
    "clip_prompts",
    "format_report",
    "load_results",
    "make_clip",
    "measure",
    "named_ratios",
    "pair_ratios",
    "ratios",
    "report_dict",
    "run_engine",
    "run_pipeline",
    "run_rounds",
    "run_ultralytics",
    "runtime_pairs",
    "sam2_weights_file",
    "save_plot",
    "speed_figures",
    "speed_tables",
    "spread_boxes",
    "summarize_rounds",
    "weights_file",
]
