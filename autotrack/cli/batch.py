"""`autotrack batch INPUTS... --output-dir DIR`: run a pipeline over many videos, here or on a Ray cluster."""

from __future__ import annotations

import click

from autotrack.cli.common import choose_pipeline
from autotrack.cli.options import pipeline_options


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output-dir", required=True, type=click.Path(file_okay=False),
              help="Results go to DIR/<input name>/, the batch summary to DIR/summary.json.")
@pipeline_options
@click.option("--save-video", is_flag=True, help="Also write each input's annotated video (tracked.mp4).")
@click.option("--ray", "ray_address", metavar="ADDRESS",
              help="Run as Ray tasks: 'local' (a Ray runtime here), 'auto' (the running cluster) or ray://HEAD:10001.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes of the local pool (default: one per CPU core); CPUs of a --ray local runtime.")
@click.option("--cpus-per-task", type=click.FloatRange(min=0, min_open=True), default=1, show_default=True,
              help="CPUs each Ray task asks for (torch uses that many threads).")
@click.option("--gpus-per-task", type=click.FloatRange(min=0), default=0, show_default=True,
              help="GPUs each Ray task asks for (0.5 puts two tasks on one GPU).")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="How many more times a failed input is tried.")
def batch_command(inputs, output_dir, save_video, ray_address, workers, cpus_per_task, gpus_per_task, retries,
                  **options) -> None:
    """Run a pipeline on every input and write the results under --output-dir; complete inputs are skipped.

    INPUTS are video files, folders (a folder holding images is one image sequence, else each video in it is one
    input), globs, URLs, or .txt files listing any of these one per line. Exits with 1 when an input failed.
    """
    from autotrack import batch

    if gpus_per_task and not ray_address:
        raise click.UsageError("--gpus-per-task needs --ray (the local pool runs every process on --device)")
    config, prompts = choose_pipeline(options)
    try:
        results = batch.run(inputs, config, output_dir, prompts=prompts, max_frames=options["max_frames"],
                            save_video=save_video, ray=ray_address, workers=workers, cpus_per_task=cpus_per_task,
                            gpus_per_task=gpus_per_task, retries=retries, on_result=_echo)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; finished inputs are complete: run again to do the rest") from None
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items()) + f"; summary in {output_dir}/summary.json")
    if counts["failed"]:
        raise SystemExit(1)


def _echo(result) -> None:
    """One line per input as it finishes."""
    detail = result.error if result.status == "failed" else (
        f"{result.frames} frames, {result.fps:.1f} fps, {result.objects} objects")
    click.echo(f"{result.status:>7s}  {result.name}: {detail}")
