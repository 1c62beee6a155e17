"""Pipelines from a config, in two steps: `load_models` once per process (the detector and the engine's model),
`new_session` once per video or stream (identity manager, point tracker, engine session, sinks). `load_pipeline`
does both for one source.

Each config section's keys are the keyword arguments of its part (`autotrack.config`). The command line, `batch`,
`serve`, `eval run` and `bench` all build through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from autotrack.config import PipelineConfig, load_config
from autotrack.identity import IdentityManager
from autotrack.pipeline.loop import Pipeline
from autotrack.points.tracker import PointTracker
from autotrack.prompters.base import Prompter
from autotrack.prompters.manual import ManualPrompts
from autotrack.sinks import Outputs, Sink
from autotrack.sources import Source, open_source

if TYPE_CHECKING:
    from autotrack.engine.engine import EngineModel


@dataclass(frozen=True)
class Models:
    """What a config loads once per process and its sessions share: nothing in it belongs to one video.

    Attributes:
        prompter: the detector, or None for a pipeline without one (each session `reset`s it as it starts).
        engine: the engine's model; `engine.session(...)` holds one video's objects.
    """

    prompter: Prompter | None
    engine: EngineModel


def check_weights(config: PipelineConfig) -> None:
    """Fail in one line, before any model loads, when a weights file the config names is missing, is not a
    checkpoint, or (offline) cannot be had. Loads nothing."""
    from autotrack.runtimes.manifest import check_export, is_export
    from autotrack.weights import WeightsError, resolve_detector, resolve_weights

    sam = config.sam
    if is_export(sam.weights):
        if sam.runtime == "torch":
            raise WeightsError(f"{sam.weights} holds exported graphs: run it with --runtime openvino or onnxruntime")
        check_export(sam.runtime, sam.model, sam.weights, sam.imgsz, sam.precision)
    elif sam.weights != "random":
        resolve_weights(sam.model, sam.weights)
    if config.detector is not None:
        resolve_detector(config.detector.weights)


def load_models(config: PipelineConfig) -> Models:
    """The detector and the engine's model a config names, for every session of this process. The input size and
    the weights files are checked first, so a bad one fails in one line before any model loads."""
    from autotrack.models import check_imgsz, load_engine

    sam = config.sam
    if sam.runtime != "torch":
        from autotrack.runtimes import get_runtime

        get_runtime(sam.runtime)  # one line saying what to install when its package is missing
    check_imgsz(sam.model, sam.imgsz)
    check_weights(config)
    prompter = build_prompter(config)
    if sam.runtime == "torch":
        engine = load_engine(sam.model, sam.weights, sam.imgsz, config.device, sam.precision, sam.compile)
    else:
        from autotrack.runtimes.load import load_exported

        engine = load_exported(sam.runtime, sam.model, sam.weights, sam.imgsz, config.device, sam.precision)
    return Models(prompter, engine)


def new_session(
    models: Models,
    config: PipelineConfig,
    source: Source | str | int | Iterable[np.ndarray],
    sinks: Iterable[Sink] = (),
    prompts: ManualPrompts | None = None,
    max_frames: int | None = None,
    source_options: dict | None = None,
    outputs: Outputs | None = None,
    profile: bool = False,
) -> Pipeline:
    """A pipeline for one video or stream on loaded models: a fresh identity manager, point tracker and engine
    session, and the prompter back in its configured state.

    A source given by name is opened last, with `source_options` (see `open_source`), once the session is built:
    a live source starts reading when it opens, and would otherwise drop or queue frames meanwhile. `outputs` are
    opened after the source (a video output takes its frame rate) and written after `sinks`; prompts are checked
    against a source opened here (a caller that opens its own source checks them itself, earlier). A `Source` given
    is closed when building fails. `profile` makes the engine session time its stages (`timings`).
    """
    with _closed_on_error(source):
        tracker = models.engine.session(config.sam.memory, config.sam.kalman, profile)
        points = build_points(config)
        if models.prompter is not None:
            models.prompter.reset()
    src = source if isinstance(source, Source) else open_source(source, **(source_options or {}))
    with _closed_on_error(src):
        if prompts is not None and src is not source:  # a source opened here (a live one): its size is known now
            prompts.check(src.size, src.total)
        sinks = [*sinks, *(outputs.open(src.fps) if outputs is not None else [])]
    return Pipeline(src, models.prompter, tracker, sinks=sinks, identity=IdentityManager(config.identity),
                    prompts=prompts, max_frames=max_frames, points=points)


def load_pipeline(
    pipeline: str | PipelineConfig,
    source: Source | str | int | Iterable[np.ndarray],
    sinks: Iterable[Sink] = (),
    prompts: ManualPrompts | None = None,
    overrides: Mapping[str, object] | None = None,
    max_frames: int | None = None,
    source_options: dict | None = None,
    outputs: Outputs | None = None,
) -> Pipeline:
    """A Pipeline from a ready pipeline name (`yolo-sam2`, ...), a YAML path, or a PipelineConfig, on one source:
    `load_models`, then `new_session` (which says how the source, prompts and outputs are opened)."""
    with _closed_on_error(source):
        config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline, overrides)
        models = load_models(config)
    return new_session(models, config, source, sinks, prompts, max_frames, source_options, outputs)


def build_prompter(config: PipelineConfig) -> Prompter | None:
    """The configured detector, or None for a pipeline without one: YOLOE or YOLO-World when the detector has text
    or its weights name one (open vocabulary), else YOLO."""
    if config.detector is None:
        return None
    from autotrack.prompters.yolo import YoloPrompter
    from autotrack.prompters.yoloe import YoloePrompter, is_open_vocabulary

    options = asdict(config.detector)
    if options["text"] is not None or is_open_vocabulary(options["weights"]):
        return YoloePrompter(**options, device=config.device)
    del options["text"]  # always None here: a closed-set YOLO reads no text
    return YoloPrompter(**options, device=config.device)


def build_points(config: PipelineConfig) -> PointTracker | None:
    """The configured point tracker, or None for a pipeline without one (CoTracker3 runs on the device)."""
    if config.points is None:
        return None
    options = {"device": config.device} if config.points.backend == "cotracker" else {}
    return PointTracker(**asdict(config.points), **options)


@contextmanager
def _closed_on_error(source: object) -> Iterator[None]:
    """Close `source`, when it is an open `Source`, if building its pipeline fails: the pipeline would have owned
    it."""
    try:
        yield
    except BaseException:
        if isinstance(source, Source):
            source.close()
        raise
