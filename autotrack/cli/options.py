"""The options several commands share, each declared once (flags, default, help), and the one conversion of their
values into typed config overrides.

A command picks the ones it takes by name, `@shared_options("sam", "sam_weights", "imgsz")`, and receives them
under those names. `config_overrides` turns the given ones into `{"sam.imgsz": 512, ...}` for `load_config`, the
`--set` ones last so that they win; values are checked by the config, whose errors name the option.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import click

from autotrack.config import PRECISIONS, RUNTIMES, PipelineConfig, load_config, parse_set
from autotrack.errors import InputError

PROMPTED_PIPELINE = "manual-sam2"  # the default pipeline when the objects are given and no detector is


def _at_least_one(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A one-line error for a count below 1 (click's own range errors span several lines)."""
    if value is not None and value < 1:
        raise InputError(f"{param.opts[0]} must be at least 1, got {value}")
    return value


OPTIONS: dict[str, Callable] = {
    "pipeline": click.option(
        "-p", "--pipeline",
        help=f"Ready pipeline name (see `autotrack pipelines`) or a YAML file. Default: text-sam2 for --text or "
             f"--like; {PROMPTED_PIPELINE} when the objects are given (prompts, eval run, bench) and --detector is "
             f"not; else yolo-sam2."),
    "detector": click.option("--detector", help="YOLO weights (yolo11n.pt, a path) or 'random'."),
    "classes": click.option("--classes", help="Comma-separated class names or ids to follow, e.g. person,car."),
    "text": click.option("--text", help="Open vocabulary: comma-separated names of what to find, e.g. "
                                        "'forklift, person in a hard hat' (YOLOE; the text-sam2 pipeline by default)."),
    "sam": click.option("--sam", help="Model: sam2_t/s/b/l, sam2.1_t/s/b/l, edgetam (fast on CPUs) or sam3 (GPUs)."),
    "sam_weights": click.option("--sam-weights", help="Model weights file (or folder), or 'random'."),
    "imgsz": click.option("--imgsz", type=int,
                          help="Model input size (a multiple of 32; EdgeTAM: of 256; SAM 3: of 14). "
                               "Default: the pipeline's."),
    "precision": click.option(
        "--precision", metavar="|".join(PRECISIONS),
        help="Model compute precision (default auto: bf16 on CUDA from Ampere on and on CPUs with AVX512-BF16 or "
             "AMX, else fp32)."),
    "runtime": click.option(
        "--runtime", metavar="|".join(RUNTIMES),
        help="Where the model's stages run: torch (default), or exported graphs on openvino or onnxruntime "
             "(--sam-weights: a folder from `autotrack export`; else exported into the cache on first use). A YOLO "
             "detector runs there too, exported into the cache on first use."),
    "prompts_file": click.option("--prompts", "prompts_file", type=click.Path(),
                                 help="JSON file of boxes/points with object IDs."),
    "boxes": click.option("--box", "boxes", multiple=True, help="A box x1,y1,x2,y2 on the first frame (repeatable)."),
    "points": click.option("--points", "points", multiple=True,
                           help="Clicks 'x,y;x,y' (x,y,0 = negative) for one object."),
    "class_names": click.option("--class", "class_names", multiple=True,
                                help="Class name of the --box/--points objects: once for all, or once per object "
                                     "in order."),
    "like": click.option("--like", "like", multiple=True, metavar="x1,y1,x2,y2[@FRAME]",
                         help="An example box (on frame FRAME, default 0): find every object that looks like it "
                              "(YOLOE or SAM 3; repeatable)."),
    "max_frames": click.option("--max-frames", type=int, callback=_at_least_one,
                               help="Process only the first N frames (of each input or sequence)."),
    "device": click.option("--device", help="auto, cpu, cuda, cuda:1, mps."),
    "sets": click.option("--set", "sets", multiple=True,
                         help="Override a config key, e.g. --set identity.max_lost=60 (the value is read as YAML; "
                              "it wins over the options)."),
}

# Where each option's value goes in the config tree.
CONFIG_KEYS = {"detector": "detector.weights", "classes": "detector.classes", "text": "detector.text",
               "sam": "sam.model", "sam_weights": "sam.weights", "imgsz": "sam.imgsz",
               "precision": "sam.precision", "runtime": "sam.runtime", "device": "device"}


def shared_options(*names: str) -> Callable:
    """Decorate a command with the named options of `OPTIONS`, listed in its help in the order given."""
    def decorate(command):
        for name in reversed(names):
            command = OPTIONS[name](command)
        return command
    return decorate


pipeline_options = shared_options(*OPTIONS)  # the whole table: what `track`, `batch` and `serve` take


def config_overrides(options: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """The config options given (by name, as the command received them), then the `--set` ones, as typed overrides
    by config key; and how each was given ("--imgsz 0", "--set sam.imgsz=abc"), for error messages."""
    from autotrack.prompters.yoloe import parse_text

    overrides, labels = {}, {}
    for name, key in CONFIG_KEYS.items():
        value = options.get(name)
        if value is None:
            continue
        if name == "classes":
            value = [item.strip() for item in value.split(",") if item.strip()]
        elif name == "text":
            value = parse_text(value)  # fails on a text without names, before anything loads
        overrides[key], labels[key] = value, f"--{name.replace('_', '-')} {options[name]}"
    for item in options.get("sets", ()):
        key, value = parse_set(item)
        overrides[key], labels[key] = value, f"--set {item}"
    return overrides, labels


def options_config(pipeline: str, options: Mapping[str, object]) -> PipelineConfig:
    """The pipeline's config with the command's options and `--set` overrides on top."""
    return load_config(pipeline, *config_overrides(options))
