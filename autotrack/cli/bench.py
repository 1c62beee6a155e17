"""`autotrack bench [SOURCE]`: speed and memory of a pipeline in its precision and in fp32, beside SAM2VideoPredictor."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click


@click.command("bench")
@click.argument("source", required=False)
@click.option("-p", "--pipeline", default="manual-sam2", show_default=True,
              help="Ready pipeline name or YAML file (a detector pipeline also times its prompter).")
@click.option("--frames", type=int, default=100, show_default=True, help="Frames per run, warm-up included.")
@click.option("--warmup", type=int, default=3, show_default=True, help="First frames left out of the speed figures.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Runs of each contender, the order rotated each round.")
@click.option("--imgsz", type=int, default=512, show_default=True, help="SAM2 input size.")
@click.option("--objects", type=click.IntRange(1, 6), default=1, show_default=True,
              help="Objects prompted with boxes on frame 0.")
@click.option("--sam-weights", help="SAM2 weights file, or 'random' (default: the pipeline's).")
@click.option("--device", help="auto, cpu, cuda, cuda:1, mps.")
@click.option("--set", "sets", multiple=True, help="Override a config key, e.g. --set sam.precision=bf16.")
@click.option("--no-ultralytics", is_flag=True, help="Skip the SAM2VideoPredictor runs.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the results here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG of time and memory per frame.")
def bench_command(source, pipeline, frames, warmup, rounds, imgsz, objects, sam_weights, device, sets,
                  no_ultralytics, json_path, plot_path) -> None:
    """Time a pipeline on SOURCE (a video file; none = a synthetic clip), split by stage, and track its memory.

    Runs the pipeline as configured (precision auto by default), the same pipeline in fp32, and ultralytics'
    SAM2VideoPredictor on the same frames with the same weights and box prompts, each --rounds times in rotated
    order, and prints fps, the ratios to SAM2VideoPredictor round by round, and the split of a frame by stage.
    """
    if warmup >= frames:
        raise click.BadParameter(f"--warmup {warmup} leaves no frame of --frames {frames} to time")
    from autotrack import bench

    config = bench.bench_config(pipeline, sam_weights, imgsz, device, sets)
    with tempfile.TemporaryDirectory(prefix="autotrack-bench-") as work:
        clip = bench.make_clip(source, frames, objects, work)
        weights = bench.weights_file(config.sam.model, config.sam.weights, work)
        config.sam.weights = str(weights)
        contenders = bench.pipeline_contenders(clip, config, weights, warmup, work, not no_ultralytics)
        runs = bench.run_rounds(contenders, rounds)
    settings = {"source": str(source) if source else "synthetic", "pipeline": config.name, "model": config.sam.model,
                "imgsz": config.sam.imgsz, "memory": config.sam.memory, "objects": objects, "frames": clip.frames,
                "warmup": warmup, "rounds": rounds}
    click.echo(f"{config.name}: {config.sam.model} imgsz {config.sam.imgsz}, {config.sam.memory} memory, "
               f"{objects} object(s), {clip.frames} frames of {settings['source']}, {rounds} round(s)")
    click.echo(bench.format_report(runs, bench.ULTRALYTICS))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(bench.report_dict(runs, settings, bench.ULTRALYTICS), indent=2) + "\n")
        click.echo(f"wrote {json_path}")
    if plot_path is not None:
        bench.save_plot(runs, plot_path, f"{config.name}, imgsz {config.sam.imgsz}, {objects} object(s)")
        click.echo(f"wrote {plot_path}")
