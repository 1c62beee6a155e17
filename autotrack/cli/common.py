"""What several commands share: the choice of a pipeline and its prompts from the pipeline options, live-stream
options, and clean stops on Ctrl-C and SIGTERM."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from autotrack.cli.options import PROMPTED_PIPELINE, options_config
from autotrack.errors import InputError

if TYPE_CHECKING:
    from autotrack.config import PipelineConfig
    from autotrack.prompters.manual import ManualPrompts

EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
EXIT_TERMINATED = 143  # SIGTERM: 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread so the run unwinds as on Ctrl-C, closing every output."""


@contextmanager
def stop_on_signals():
    """Turn SIGTERM into `Terminated` and SIGINT into KeyboardInterrupt while the block runs (a second SIGTERM gets
    the default: immediate exit). SIGINT's handler is installed even when the process inherited SIGINT as ignored,
    as a shell's background job does (Python then leaves it ignored), so `kill -INT` stops a background run with
    its outputs complete too."""

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler), signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def choose_pipeline(options: dict) -> tuple[PipelineConfig, ManualPrompts | None]:
    """From the pipeline options' values (by name): the config of the pipeline to run, with the options and `--set`
    on top, and the user prompts (or None). By default text-sam2 for text or example boxes, manual-sam2 when prompts
    are given and no detector, else yolo-sam2. Fails on a bad pipeline, option, text or prompts before anything is
    opened."""
    from autotrack.prompters.manual import ManualPrompts

    prompts = None
    if options["prompts_file"]:
        prompts = ManualPrompts.from_json(options["prompts_file"])
    elif options["boxes"] or options["points"] or options["like"]:
        prompts = ManualPrompts.from_options(options["boxes"], options["points"], classes=options["class_names"],
                                             like=options["like"])
    if options["class_names"] and not (options["boxes"] or options["points"]):
        raise InputError("--class names the --box/--points objects; a prompts file gives each object's \"class\"")
    pipeline = options["pipeline"]
    if pipeline is None:
        if options["text"] is not None or (prompts is not None and prompts.examples):
            pipeline = "text-sam2"
        else:
            pipeline = PROMPTED_PIPELINE if prompts is not None and options["detector"] is None else "yolo-sam2"
    return options_config(pipeline, options), prompts


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
