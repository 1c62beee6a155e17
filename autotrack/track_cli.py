"""`autotrack track SOURCE`: run a pipeline on a video, folder, glob, camera or stream and write the outputs.

Stopping: Ctrl-C or SIGTERM ends the run after closing every output (the files are complete and valid), prints the
summary and exits with the shell's codes for those signals, 130 and 143, so scripts and supervisors can tell a stop
from a finished run (0) or a failure (1: bad input, or a stream lost for good after its reconnect attempts).
A second SIGTERM kills at once.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from autotrack.config import ConfigError, builtin_pipelines, find_pipeline
from autotrack.errors import one_line

# Errors whose message is the whole story: shown as one line, exit code 1.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError)


def user_errors() -> tuple[type[BaseException], ...]:
    """The one-line errors of every part (imported late: sources, weights and prompters are heavier)."""
    from autotrack.prompters.yolo import PrompterError
    from autotrack.sources import SourceError
    from autotrack.weights import WeightsError

    return (*USER_ERRORS, SourceError, WeightsError, PrompterError, RuntimeError)


EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
EXIT_TERMINATED = 143  # SIGTERM: 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread so the run unwinds as on Ctrl-C, closing every output."""


@contextmanager
def stop_on_sigterm():
    """Turn SIGTERM into `Terminated` while the block runs (a second SIGTERM gets the default: immediate exit)."""

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def live_options(live: bool | None, reconnect: str | None) -> dict:
    """`--live/--all-frames` and `--reconnect` as LiveSource options (only those given)."""
    options = {}
    if live is not None:
        options["policy"] = "latest" if live else "all"
    if reconnect is not None:
        if reconnect != "forever" and not reconnect.isdigit():
            raise click.BadParameter(f"expected a number of attempts or 'forever', got {reconnect!r}",
                                     param_hint="--reconnect")
        options["reconnect"] = None if reconnect == "forever" else int(reconnect)
    return options


def config_overrides(detector, classes, sam, sam_weights, imgsz, device, sets) -> list[str]:
    """CLI options as `--set` overrides, applied after the pipeline file and before explicit --set."""
    pairs = [
        ("detector.weights", detector),
        ("detector.classes", f"[{classes}]" if classes else None),
        ("sam.model", sam),
        ("sam.weights", sam_weights),
        ("sam.imgsz", imgsz),
        ("device", device),
    ]
    return [f"{key}={value}" for key, value in pairs if value is not None] + list(sets)


def make_sinks(output, mot, json_path, masks_dir, fps: float | None, show: bool = False) -> list:
    from autotrack.sinks import CocoJsonSink, DavisPngSink, MotSink, VideoSink, WindowSink

    sinks = [WindowSink()] if show else []
    if output:
        sinks.append(VideoSink(output, fps or 30.0))
    if mot:
        sinks.append(MotSink(mot))
    if json_path:
        sinks.append(CocoJsonSink(json_path))
    if masks_dir:
        sinks.append(DavisPngSink(masks_dir))
    return sinks


def pipeline_options(command):
    """The options that choose and tune the pipeline and its prompts, shared by `track` and `batch`."""
    options = [
        click.option("-p", "--pipeline", help="Ready pipeline name (see `autotrack pipelines`) or a YAML file."),
        click.option("--detector", help="YOLO weights (yolo11n.pt, a path) or 'random'."),
        click.option("--classes", help="Comma-separated class names or ids to follow, e.g. person,car."),
        click.option("--sam", help="SAM2 model: sam2_t/s/b/l or sam2.1_t/s/b/l."),
        click.option("--sam-weights", help="SAM2 weights file, or 'random'."),
        click.option("--imgsz", type=int, help="SAM2 input size (a multiple of 32)."),
        click.option("--prompts", "prompts_file", type=click.Path(), help="JSON file of boxes/points with object IDs."),
        click.option("--box", "boxes", multiple=True, help="A box x1,y1,x2,y2 on the first frame (repeatable)."),
        click.option("--points", "points", multiple=True, help="Clicks 'x,y;x,y' (x,y,0 = negative) for one object."),
        click.option("--max-frames", type=int, help="Stop after this many frames."),
        click.option("--device", help="auto, cpu, cuda, cuda:1, mps."),
        click.option("--set", "sets", multiple=True, help="Override a config key, e.g. --set identity.max_lost=60."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def pipeline_and_prompts(pipeline, detector, prompts_file, boxes, points):
    """The pipeline to run and the user prompts (or None): by default manual-sam2 when prompts are given and no
    detector, else yolo-sam2. Fails on a bad pipeline name before anything is opened."""
    from autotrack.prompters.manual import ManualPrompts

    user_given = prompts_file or boxes or points
    if pipeline is None:
        pipeline = "manual-sam2" if user_given and detector is None else "yolo-sam2"
    find_pipeline(pipeline)
    prompts = None
    if prompts_file:
        prompts = ManualPrompts.from_json(prompts_file)
    elif boxes or points:
        prompts = ManualPrompts.from_options(boxes, points)
    return pipeline, prompts


@click.command("track")
@click.argument("source")
@pipeline_options
@click.option("--output", type=click.Path(), help="Annotated video (.mp4).")
@click.option("--mot", type=click.Path(), help="MOTChallenge txt output.")
@click.option("--json", "json_path", type=click.Path(), help="COCO-style JSON with RLE masks.")
@click.option("--masks-dir", type=click.Path(), help="Folder for DAVIS-layout PNG masks.")
@click.option("--show", is_flag=True, help="Show the annotated frames in a window while the run goes on.")
@click.option("--live/--all-frames", "live", default=None,
              help="Webcams and streams: follow the newest frame and drop the ones the tracker has no time for "
                   "(--live, the default), or process every frame, buffering a few (--all-frames).")
@click.option("--reconnect", metavar="N|forever",
              help="Webcams and streams: reconnect attempts after the input is lost (default 5).")
def track_command(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes, points,
                  output, mot, json_path, masks_dir, show, max_frames, live, reconnect, device, sets) -> None:
    """Find, segment and follow objects in SOURCE (video file, image folder or glob, webcam index, RTSP URL).

    Ctrl-C or SIGTERM stops a run with every output complete and valid (exit code 130 or 143).
    """
    errors = user_errors()
    with stop_on_sigterm():
        try:
            runner = _build(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes,
                            points, output, mot, json_path, masks_dir, show, max_frames, live, reconnect, device,
                            sets)
        except Terminated:
            sys.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)
        except errors as error:
            raise click.ClickException(one_line(error)) from None
        try:
            _run(runner)
            code, message = 0, None
        except Terminated:
            code, message = EXIT_TERMINATED, "stopped by SIGTERM; the outputs are closed and complete"
        except KeyboardInterrupt:
            code, message = EXIT_INTERRUPTED, "stopped by Ctrl-C; the outputs are closed and complete"
        except errors as error:
            code, message = 1, f"Error: {one_line(error)}"
    _print_summary(runner.summary)
    if message:
        click.echo(message, err=True)
        sys.exit(code)


def _build(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes, points,
           output, mot, json_path, masks_dir, show, max_frames, live, reconnect, device, sets):
    """Open the source and the sinks and build the pipeline, failing early on bad options."""
    from autotrack.pipeline import load_pipeline
    from autotrack.sinks.window import check_display
    from autotrack.sources import is_live, open_source

    source_options = live_options(live, reconnect)
    if source_options and not is_live(source):
        raise click.UsageError("--live, --all-frames and --reconnect apply to webcams and streams only")
    if show:
        check_display()
    pipeline, prompts = pipeline_and_prompts(pipeline, detector, prompts_file, boxes, points)
    overrides = config_overrides(detector, classes, sam, sam_weights, imgsz, device, sets)
    for path in (output, mot, json_path):
        if path and not Path(path).parent.exists():
            raise FileNotFoundError(f"output folder does not exist: {Path(path).parent}")
    if not is_live(source):
        source = open_source(source)  # a missing or unreadable file fails before any model loads
    # a live source opens last, once the models are loaded, so it neither drops nor queues frames meanwhile
    runner = load_pipeline(pipeline, source, [], prompts, overrides, max_frames, source_options)
    try:
        runner.sinks = make_sinks(output, mot, json_path, masks_dir, runner.source.fps, show)
    except BaseException:
        runner.close()
        raise
    return runner


def _run(runner) -> None:
    """Run the pipeline with a progress bar (when stderr is a terminal)."""
    from tqdm import tqdm

    from autotrack.sources import LiveSource

    live = isinstance(runner.source, LiveSource)
    total = min(filter(None, (runner.source.total, runner.max_frames)), default=None)
    with tqdm(total=total, unit="frame", dynamic_ncols=True, disable=None) as bar:

        def on_frame(result) -> None:
            tracked = 0 if result.detections.tracker_id is None else int(
                (result.detections.data["status"] == "tracked").sum())
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
        ("input fps", "-" if summary.input_fps is None else f"{summary.input_fps:.2f}"),
        ("objects", summary.objects),
        *((kind, summary.events.get(kind, 0)) for kind in ("born", "reprompted", "occluded", "resumed", "lost")),
        ("dropped frames", summary.dropped),
        ("reconnects", summary.reconnects),
    ]
    for name, value in rows:
        click.echo(f"{name:>16s}  {value}")


@click.command("pipelines")
def pipelines_command() -> None:
    """List the ready pipelines."""
    import yaml

    for name, path in builtin_pipelines().items():
        first = path.read_text().splitlines()[0].lstrip("# ")
        sam = (yaml.safe_load(path.read_text()) or {}).get("sam", {})
        click.echo(f"{name:14s} {sam.get('model', '')} imgsz {sam.get('imgsz', '')}: {first}")
