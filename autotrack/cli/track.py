"""`autotrack track SOURCE`: run a pipeline on a video, folder, glob, camera or stream and write the outputs.

Stopping: Ctrl-C or SIGTERM ends the run after closing every output (the files are complete and valid), prints the
summary and exits with the shell's codes for those signals, 130 and 143, so scripts and supervisors can tell a stop
from a finished run (0) or a failure (1: bad input, or a stream lost for good after its reconnect attempts).
A second SIGTERM kills at once. SIGINT stops a run the same way when it runs as a shell's background job too.
"""

from __future__ import annotations

import sys

import click

from autotrack.advice import faster_pipeline_note, precision_note
from autotrack.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    choose_pipeline,
    live_options,
    stop_on_signals,
)
from autotrack.cli.options import pipeline_options
from autotrack.errors import AutotrackError, one_line
from autotrack.types import EVENT_KINDS, Status


@click.command("track")
@click.argument("source")
@pipeline_options
@click.option("--output", type=click.Path(), help="Annotated video (.mp4).")
@click.option("--mot", type=click.Path(), help="MOTChallenge txt output.")
@click.option("--json", "json_path", type=click.Path(), help="COCO-style JSON with RLE masks.")
@click.option("--masks-dir", type=click.Path(), help="Folder for DAVIS-layout PNG masks.")
@click.option("--dataset", type=click.Path(), help="Auto-label: write frames and their masks as a training set here.")
@click.option("--dataset-format", default="yolo", show_default=True,
              help="yolo (segmentation polygons and data.yaml) or coco (annotations.json).")
@click.option("--dataset-every", type=int, default=1, show_default=True, help="Write every N-th frame to the dataset.")
@click.option("--show", is_flag=True, help="Show the annotated frames in a window while the run goes on.")
@click.option("--live/--all-frames", "live", default=None,
              help="Webcams and streams: follow the newest frame and drop the ones the tracker has no time for "
                   "(--live, the default), or process every frame, buffering a few (--all-frames).")
@click.option("--reconnect", metavar="N|forever",
              help="Webcams and streams: reconnect attempts after the input is lost (default 5).")
def track_command(source, output, mot, json_path, masks_dir, dataset, dataset_format, dataset_every, show, live,
                  reconnect, **options) -> None:
    """Find, segment and follow objects in SOURCE (video file, image folder or glob, webcam index, RTSP URL).

    Ctrl-C or SIGTERM stops a run with every output complete and valid (exit code 130 or 143).
    """
    from autotrack.sinks import Outputs

    outputs = Outputs(video=output, mot=mot, json=json_path, masks_dir=masks_dir, show=show, dataset=dataset,
                      dataset_format=dataset_format, dataset_every=dataset_every)
    with stop_on_signals():
        try:
            runner, config = _build(source, outputs, live_options(live, reconnect), options)
        except Terminated:
            sys.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)
        device = runner.tracker.device.type
        for note in (faster_pipeline_note(config, device), precision_note(runner.tracker.precision, device)):
            if note:
                click.echo(note, err=True)
        try:
            _run(runner)
            code, message = 0, None
        except Terminated:
            code, message = EXIT_TERMINATED, "stopped by SIGTERM; the outputs are closed and complete"
        except KeyboardInterrupt:
            code, message = EXIT_INTERRUPTED, "stopped by Ctrl-C; the outputs are closed and complete"
        except AutotrackError as error:  # e.g. a stream lost for good: the outputs are closed and complete
            code, message = 1, f"Error: {one_line(error)}"
    _print_summary(runner.summary)
    if runner.summary.objects == 0 and config.detector is not None and config.detector.weights == "random":
        click.echo("note: a detector with random weights (--detector random) finds nothing; it is for smoke runs "
                   "and timing. Give real weights, or prompts (--box, --points, --prompts).", err=True)
    if message:
        click.echo(message, err=True)
        sys.exit(code)


def _build(source, outputs, source_options: dict, options: dict):
    """Check every option, prompt, weights file and output (no output may be an input or another output), the device
    and the memory the input size needs, open a file source and check the prompts against it, then build the
    pipeline: bad input fails in one line before any model loads (a live source opens last, once the models are
    loaded, so it neither drops nor queues frames meanwhile; its prompts are checked then)."""
    from autotrack.paths import check_paths, source_paths
    from autotrack.pipeline import check_resources, check_weights, load_pipeline, run_inputs
    from autotrack.sinks.window import check_display
    from autotrack.sources import is_live, open_source

    live = is_live(source)
    if source_options and not live:
        raise click.UsageError("--live, --all-frames and --reconnect apply to webcams and streams only")
    if outputs.show:
        check_display()
    config, prompts = choose_pipeline(options)
    check_paths([*source_paths(source), *run_inputs(config, options["pipeline"], prompts)], outputs.named_paths())
    outputs.check()
    if not live:
        source = open_source(source)
    try:
        if prompts is not None and not live:
            prompts.check(source.size, source.total)
        check_weights(config)
        check_resources(config)
    except BaseException:
        if not live:
            source.close()
        raise
    runner = load_pipeline(config, source, prompts=prompts, max_frames=options["max_frames"],
                           source_options=source_options, outputs=outputs)
    return runner, config


def _run(runner) -> None:
    """Run the pipeline with a progress bar (when stderr is a terminal)."""
    from tqdm import tqdm

    from autotrack.sources import LiveSource

    live = isinstance(runner.source, LiveSource)
    total = min(filter(None, (runner.source.total, runner.max_frames)), default=None)
    with tqdm(total=total, unit="frame", dynamic_ncols=True, disable=None) as bar:

        def on_frame(result) -> None:
            tracked = 0 if result.detections.tracker_id is None else int(
                (result.detections.data["status"] == Status.TRACKED).sum())
            bar.set_postfix(progress_fields(runner.summary, tracked, live), refresh=False)
            bar.update(1)

        runner.run(on_frame)


def progress_fields(summary, objects: int, live: bool) -> dict[str, str]:
    """What the progress bar shows besides the count: processed fps and tracked objects, and for live sources the
    input fps, dropped frames and reconnects."""
    fields = {"fps": f"{summary.fps:.1f}", "objects": str(objects)}
    if live:
        input_fps = "-" if summary.input_fps is None else f"{summary.input_fps:.1f}"
        fields.update(input_fps=input_fps, dropped=str(summary.dropped), reconnects=str(summary.reconnects))
    return fields


def _print_summary(summary) -> None:
    rows = [
        ("frames", summary.frames),
        ("processed fps", f"{summary.fps:.2f}"),
        ("precision", summary.precision or "-"),
        ("input fps", "-" if summary.input_fps is None else f"{summary.input_fps:.2f}"),
        ("objects", summary.objects),
        *((kind, summary.events.get(kind, 0)) for kind in EVENT_KINDS),
        ("dropped frames", summary.dropped),
        ("reconnects", summary.reconnects),
    ]
    for name, value in rows:
        click.echo(f"{name:>16s}  {value}")
