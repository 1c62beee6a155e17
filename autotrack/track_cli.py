"""`autotrack track SOURCE`: run a pipeline on a video, folder, glob, camera or stream and write the outputs."""

from __future__ import annotations

from pathlib import Path

import click

from autotrack.config import ConfigError, builtin_pipelines, find_pipeline

# Errors whose message is the whole story: shown as one line, exit code 1.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError)


def user_errors() -> tuple[type[BaseException], ...]:
    """The one-line errors of every part (imported late: sources, weights and prompters are heavier)."""
    from autotrack.prompters.yolo import PrompterError
    from autotrack.sources import SourceError
    from autotrack.weights import WeightsError

    return (*USER_ERRORS, SourceError, WeightsError, PrompterError, RuntimeError)


def one_line(error: BaseException) -> str:
    """An error as the one line a user sees: its message's first line, or its repr when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


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


def make_sinks(output, mot, json_path, masks_dir, fps: float | None) -> list:
    from autotrack.sinks import CocoJsonSink, DavisPngSink, MotSink, VideoSink

    sinks = []
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
def track_command(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes, points,
                  output, mot, json_path, masks_dir, max_frames, device, sets) -> None:
    """Find, segment and follow objects in SOURCE (video file, image folder or glob, webcam index, RTSP URL)."""
    errors = user_errors()
    try:
        summary = _track(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes, points,
                         output, mot, json_path, masks_dir, max_frames, device, sets)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; outputs so far are complete and valid") from None
    except errors as error:
        raise click.ClickException(one_line(error)) from None
    _print_summary(summary)


def _track(source, pipeline, detector, classes, sam, sam_weights, imgsz, prompts_file, boxes, points,
           output, mot, json_path, masks_dir, max_frames, device, sets):
    from tqdm import tqdm

    from autotrack.pipeline import load_pipeline
    from autotrack.sources import open_source

    pipeline, prompts = pipeline_and_prompts(pipeline, detector, prompts_file, boxes, points)
    overrides = config_overrides(detector, classes, sam, sam_weights, imgsz, device, sets)
    for path in (output, mot, json_path):
        if path and not Path(path).parent.exists():
            raise FileNotFoundError(f"output folder does not exist: {Path(path).parent}")
    src = open_source(source)
    try:
        sinks = make_sinks(output, mot, json_path, masks_dir, src.fps)
    except BaseException:
        src.close()
        raise
    runner = load_pipeline(pipeline, src, sinks, prompts, overrides, max_frames)
    total = min(filter(None, (src.total, max_frames)), default=None)
    with tqdm(total=total, unit="frame", dynamic_ncols=True, disable=None) as bar:

        def on_frame(result) -> None:
            live = 0 if result.detections.tracker_id is None else int(
                (result.detections.data["status"] == "tracked").sum())
            bar.set_postfix(fps=f"{runner.summary.fps:.1f}", objects=live, refresh=False)
            bar.update(1)

        return runner.run(on_frame)


def _print_summary(summary) -> None:
    rows = [
        ("frames", summary.frames),
        ("fps", f"{summary.fps:.2f}"),
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
