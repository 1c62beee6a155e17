"""`autotrack bench [SOURCE]`: speed and memory of a pipeline in its precision and in fp32, beside SAM2VideoPredictor."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from autotrack.advice import GPU_MODELS, faster_pipeline_note
from autotrack.cli.options import PROMPTED_PIPELINE, config_overrides, shared_options


@click.command("bench")
@click.argument("source", required=False)
@shared_options("pipeline")
@click.option("--frames", type=int, default=100, show_default=True, help="Frames per run, warm-up included.")
@click.option("--warmup", type=int, default=3, show_default=True, help="First frames left out of the speed figures.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Runs of each contender, the order rotated each round.")
@shared_options("sam", "imgsz", "precision", "runtime")
@click.option("--objects", type=click.IntRange(1, 6), default=1, show_default=True,
              help="Objects prompted with boxes on frame 0.")
@shared_options("sam_weights", "device", "sets")
@click.option("--no-ultralytics", is_flag=True, help="Skip the SAM2VideoPredictor runs.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the results here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG of time and memory per frame.")
def bench_command(source, frames, warmup, rounds, objects, no_ultralytics, json_path, plot_path, **options) -> None:
    """Time a pipeline on SOURCE (a video file; none = a synthetic clip), split by stage, and track its memory.

    Runs the pipeline as configured (manual-sam2 by default, precision auto by default; a detector pipeline also
    times its prompter), the same pipeline in fp32, and ultralytics' SAM2VideoPredictor on the same frames with the
    same weights and box prompts, each --rounds times in rotated order, and prints fps, the ratios to
    SAM2VideoPredictor round by round, and the split of a frame by stage.
    With --runtime openvino or onnxruntime, the pipeline also runs on that runtime (exported on first use); with
    --sam-weights an exported folder (autotrack export, any precision), the runtime runs that folder and PyTorch the
    weights it was exported from.
    With --sam edgetam or sam3, the pipeline also runs on SAM2.1-tiny (and the predictor with it; at the nearest input
    size it takes), and the ratios of the model to SAM2.1-tiny in each precision are printed too.
    """
    if warmup >= frames:
        raise click.BadParameter(f"--warmup {warmup} leaves no frame of --frames {frames} to time")
    from autotrack import bench
    from autotrack.device import resolve_device
    from autotrack.paths import NamedPath, check_paths, source_paths
    from autotrack.pipeline import run_inputs
    from autotrack.sinks.staging import write_whole

    config = bench.bench_config(options["pipeline"] or PROMPTED_PIPELINE, *config_overrides(options))
    if config.sam.model in GPU_MODELS:  # what a GPU model costs on a CPU, and what runs well there
        note = faster_pipeline_note(config, resolve_device(config.device).type)
        if note:
            click.echo(note, err=True)
    outputs = [NamedPath(label, path) for label, path in (("--json", json_path), ("--plot", plot_path)) if path]
    check_paths([*source_paths(source), *run_inputs(config, options["pipeline"])], outputs)
    with tempfile.TemporaryDirectory(prefix="autotrack-bench-") as work:
        clip = bench.make_clip(source, frames, objects, work)
        weights = bench.sam2_weights_file(config, work)
        contenders = bench.pipeline_contenders(clip, config, weights, warmup, work, not no_ultralytics)
        runs = bench.run_rounds(contenders, rounds)
    pairs = {**bench.baseline_pairs(list(runs), config.sam.model),
             **bench.runtime_pairs(list(runs), config.sam.model, config.sam.runtime)}
    settings = {"source": str(source) if source else "synthetic", "pipeline": config.name, "model": config.sam.model,
                "imgsz": config.sam.imgsz, "memory": config.sam.memory, "objects": objects, "frames": clip.frames,
                "warmup": warmup, "rounds": rounds}
    click.echo(f"{config.name}: {config.sam.model} imgsz {config.sam.imgsz}, {config.sam.memory} memory, "
               f"{objects} object(s), {clip.frames} frames of {settings['source']}, {rounds} round(s)")
    click.echo(bench.format_report(runs, bench.ULTRALYTICS, pairs))
    if json_path is not None:
        report = json.dumps(bench.report_dict(runs, settings, bench.ULTRALYTICS, pairs), indent=2) + "\n"
        write_whole(json_path, lambda tmp: tmp.write_text(report))
        click.echo(f"wrote {json_path}")
    if plot_path is not None:
        bench.save_plot(runs, plot_path, f"{config.name}, imgsz {config.sam.imgsz}, {objects} object(s)")
        click.echo(f"wrote {plot_path}")
