"""What several commands share: the options that choose and tune a pipeline and its prompts, how those become
config overrides, live-stream options, and clean stops on Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from autotrack.config import find_pipeline
from autotrack.errors import InputError
from autotrack.engine.precision import PRECISIONS

if TYPE_CHECKING:
    from autotrack.prompters.manual import ManualPrompts

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


def config_overrides(values: dict[str, object], sets=()) -> list[str]:
    """Command-line options as `--set` overrides ({"sam.imgsz": 512, "device": None} -> ["sam.imgsz=512"]), the
    given ones only, followed by the explicit `--set` ones so that those win."""
    return [f"{key}={value}" for key, value in values.items() if value is not None] + list(sets)


def pipeline_options(command):
    """The options that choose and tune the pipeline and its prompts, shared by `track` and `batch`."""
    options = [
        click.option("-p", "--pipeline", help="Ready pipeline name (see `autotrack pipelines`) or a YAML file."),
        click.option("--detector", help="YOLO weights (yolo11n.pt, a path) or 'random'."),
        click.option("--classes", help="Comma-separated class names or ids to follow, e.g. person,car."),
        click.option("--text", help="Open vocabulary: comma-separated names of what to find, e.g. "
                                    "'forklift, person in a hard hat' (YOLOE; the text-sam2 pipeline by default)."),
        click.option("--sam", help="Model: sam2_t/s/b/l, sam2.1_t/s/b/l, or edgetam (fast on CPUs)."),
        click.option("--sam-weights", help="Model weights file (or folder), or 'random'."),
        click.option("--imgsz", type=int, help="Model input size (a multiple of 32; EdgeTAM: of 256)."),
        click.option("--precision", type=click.Choice(PRECISIONS),
                     help="Model compute precision (default auto: bf16 on CUDA from Ampere on and on CPUs with "
                          "AVX512-BF16 or AMX, else fp32)."),
        click.option("--prompts", "prompts_file", type=click.Path(), help="JSON file of boxes/points with object IDs."),
        click.option("--box", "boxes", multiple=True, help="A box x1,y1,x2,y2 on the first frame (repeatable)."),
        click.option("--points", "points", multiple=True, help="Clicks 'x,y;x,y' (x,y,0 = negative) for one object."),
        click.option("--class", "class_names", multiple=True,
                     help="Class name of the --box/--points objects: once for all, or once per object in order."),
        click.option("--like", "like", multiple=True, metavar="x1,y1,x2,y2[@FRAME]",
                     help="An example box (on frame FRAME, default 0): find every object that looks like it "
                          "(YOLOE; repeatable)."),
        click.option("--max-frames", type=int, help="Stop after this many frames."),
        click.option("--device", help="auto, cpu, cuda, cuda:1, mps."),
        click.option("--set", "sets", multiple=True, help="Override a config key, e.g. --set identity.max_lost=60."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_option(name: str, value: int | None) -> None:
    """One-line errors for numeric options out of range (click's own range errors span several lines)."""
    if value is None:
        return
    if name == "imgsz" and (value < 32 or value % 32):
        raise InputError(f"--imgsz must be a positive multiple of 32, got {value}")
    if name == "max_frames" and value < 1:
        raise InputError(f"--max-frames must be at least 1, got {value}")


def choose_pipeline(options: dict) -> tuple[str, ManualPrompts | None, list[str]]:
    """From the `pipeline_options` values (by name): the pipeline to run, the user prompts (or None) and the config
    overrides. By default text-sam2 for text or example boxes, manual-sam2 when prompts are given and no detector,
    else yolo-sam2. Fails on a bad pipeline name, text or prompts before anything is opened."""
    from autotrack.prompters.manual import ManualPrompts
    from autotrack.prompters.yoloe import parse_text

    for name in ("imgsz", "max_frames"):
        check_option(name, options[name])
    prompts = None
    if options["prompts_file"]:
        prompts = ManualPrompts.from_json(options["prompts_file"])
    elif options["boxes"] or options["points"] or options["like"]:
        prompts = ManualPrompts.from_options(options["boxes"], options["points"], classes=options["class_names"],
                                             like=options["like"])
    if options["class_names"] and not (options["boxes"] or options["points"]):
        raise InputError("--class names the --box/--points objects; a prompts file gives each object's \"class\"")
    text = options["text"]
    pipeline = options["pipeline"]
    if pipeline is None:
        if text is not None or (prompts is not None and prompts.examples):
            pipeline = "text-sam2"
        else:
            pipeline = "manual-sam2" if prompts is not None and options["detector"] is None else "yolo-sam2"
    find_pipeline(pipeline)
    classes = options["classes"]
    values = {"detector.weights": options["detector"], "detector.classes": f"[{classes}]" if classes else None,
              "detector.text": json.dumps(parse_text(text)) if text is not None else None,
              "sam.model": options["sam"], "sam.weights": options["sam_weights"], "sam.imgsz": options["imgsz"],
              "sam.precision": options["precision"], "device": options["device"]}
    return pipeline, prompts, config_overrides(values, options["sets"])


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
