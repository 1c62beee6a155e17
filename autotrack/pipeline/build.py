"""Pipelines from a config, in two steps: `load_models` once per process (the detector and the engine's model),
`new_session` once per video or stream (identity manager, point tracker, engine session, sinks). `load_pipeline`
does both for one source.

Each config section's keys are the keyword arguments of its part (`autotrack.config`). The command line, `batch`,
`serve`, `eval run` and `bench` all build through these functions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from autotrack.config import PipelineConfig, load_config
from autotrack.identity import IdentityManager
from autotrack.paths import NamedPath
from autotrack.reid import Reidentifier
from autotrack.reid.embedder import Embedder, check_embedder, load_embedder
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
        prompter: the detector, or None for a pipeline without one (each session takes its own `session()` of it:
            the same weights, its own classes).
        engine: the engine's model; `engine.session(...)` holds one video's objects.
        embedder: the learned re-ID embedder (`reid.embedder`), or None for the engine's free embedding.
        detector_lock: taken by every session around the detector, so sessions on several compute threads run it
            one frame at a time (a loaded detector, such as ultralytics' predictors, is not thread-safe).
    """

    prompter: Prompter | None
    engine: EngineModel
    embedder: Embedder | None = None
    detector_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


def check_weights(config: PipelineConfig) -> None:
    """Fail in one line, before any model loads, when a weights file the config names is missing, is not a
    checkpoint, or (offline) cannot be had; every such file of the run is named in that one line, with the `random`
    choices for a smoke run. Loads nothing."""
    from autotrack.runtimes.manifest import check_export, is_export
    from autotrack.weights import (WeightsError, is_sam3_detector, resolve_detector, resolve_timm_weights,
                                   resolve_weights)

    check_embedder(config.reid)  # its name first: its weights are looked up by it
    sam = config.sam
    checks = []  # (the option of a smoke run without it, how to find it)
    if is_export(sam.weights):
        if sam.runtime == "torch":
            raise WeightsError(f"{sam.weights} holds exported graphs: run it with --runtime openvino or onnxruntime")
        check_export(sam.runtime, sam.model, sam.weights, sam.imgsz, sam.precision)
    elif sam.weights != "random":
        checks.append(("--sam-weights random", lambda: resolve_weights(sam.model, sam.weights)))
    if config.reid.enabled and config.reid.timm_model is not None:
        reid = config.reid
        checks.append(("--set reid.embedder_weights=random",
                       lambda: resolve_timm_weights(reid.timm_model, reid.embedder_weights)))
    if config.detector is not None and is_sam3_detector(config.detector.weights):
        sam3 = None if config.detector.weights == "sam3" else config.detector.weights
        checks.append(("--detector random", lambda: resolve_weights("sam3", sam3)))
    elif config.detector is not None:
        checks.append(("--detector random", lambda: resolve_detector(config.detector.weights)))
    problems, smoke = [], []
    for random_option, resolve in checks:
        try:
            resolve()
        except WeightsError as error:
            problems.append(str(error))
            smoke.append(random_option)
    if problems:
        raise WeightsError(f"{'; '.join(problems)} (for a smoke run without weights: {' '.join(smoke)})")


def run_inputs(config: PipelineConfig, pipeline: str | None = None,
               prompts: ManualPrompts | None = None) -> list[NamedPath]:
    """The files here that a run reads besides its source, for `autotrack.paths.check_paths`: the weights files
    (or folders) given by path, the pipeline file when `pipeline` names one, and the prompts file the prompts were
    read from. Resolves nothing by name and downloads nothing."""
    given = [("SAM weights", config.sam.weights if config.sam.weights != "random" else None),
             ("detector weights", config.detector.weights if config.detector is not None else None),
             ("re-ID embedder weights", config.reid.embedder_weights if config.reid.enabled else None),
             ("pipeline file", pipeline), ("prompts file", prompts.path if prompts is not None else None)]
    return [NamedPath(label, path, Path(path).is_dir()) for label, path in given
            if path is not None and Path(path).exists()]


def check_resources(config: PipelineConfig) -> None:
    """Fail in one line, before any model loads, when the config's input sizes are not ones their model families
    take, its device is not on this machine (the line lists those that are), or a run at its input size would need
    more memory than the device has free. Imports torch; loads nothing."""
    from autotrack.device import resolve_device
    from autotrack.models import check_imgsz, check_memory
    from autotrack.weights import is_sam3_detector

    check_imgsz(config.sam.model, config.sam.imgsz)
    if config.detector is not None and is_sam3_detector(config.detector.weights):
        check_imgsz("sam3", config.detector.imgsz)
    check_memory(config.sam.model, config.sam.imgsz, resolve_device(config.device))


def load_models(config: PipelineConfig, engine: EngineModel | None = None) -> Models:
    """The detector and the engine's model a config names, for every session of this process. The input size, the
    device, the memory and the weights files are checked first, so a bad one fails in one line before any model
    loads. `engine`: one already loaded for a config with the same engine key (`models_key`), shared instead of
    loading another."""
    from autotrack.models import load_engine

    sam = config.sam
    if sam.runtime != "torch":
        from autotrack.runtimes import get_runtime

        get_runtime(sam.runtime)  # one line saying what to install when its package is missing
    check_resources(config)
    check_weights(config)
    prompter = build_prompter(config)
    if engine is None and sam.runtime == "torch":
        engine = load_engine(sam.model, sam.weights, sam.imgsz, config.device, sam.precision, sam.compile)
    elif engine is None:
        from autotrack.runtimes.load import load_exported

        engine = load_exported(sam.runtime, sam.model, sam.weights, sam.imgsz, config.device, sam.precision)
    if shares_sam3_trunk(config):
        prompter.share_trunk(engine.parts.model)
    return Models(prompter, engine, load_embedder(config.reid, config.device))


def shares_sam3_trunk(config: PipelineConfig) -> bool:
    """Whether the detector and the tracker are SAM 3's, read from one checkpoint folder at one input size by torch
    (not compiled), so that one ViT trunk pass per frame serves both (`Sam3Prompter.share_trunk`)."""
    from autotrack.weights import is_sam3_detector, resolve_weights

    sam, detector = config.sam, config.detector
    if detector is None or not is_sam3_detector(detector.weights) or sam.model != "sam3":
        return False
    if sam.weights == "random" or sam.runtime != "torch" or sam.compile or sam.imgsz != detector.imgsz:
        return False
    folder = None if detector.weights == "sam3" else detector.weights
    return resolve_weights("sam3", folder).resolve() == resolve_weights("sam3", sam.weights).resolve()


class ModelsKey(NamedTuple):
    """What decides the models `load_models(config)` builds (`models_key`): configs with equal keys can share one
    `Models`, and configs with equal `engine` keys one engine. Their sessions may differ in all else: detector
    classes, text and thresholds, memory policy, identity and points."""

    engine: tuple  # the engine's model, weights, input size, precision, compile, runtime, and the device
    detector: tuple | None  # the detector's weights and whether it is open-vocabulary; None: no detector
    embedder: tuple = ()  # the learned re-ID embedder's model and weights; (): none


def models_key(config: PipelineConfig) -> ModelsKey:
    """The key of the models a config loads (see `ModelsKey`)."""
    from autotrack.prompters.yoloe import is_open_vocabulary
    from autotrack.weights import is_sam3_detector

    sam, detector = config.sam, config.detector
    engine = (sam.model, sam.weights, sam.imgsz, sam.precision, sam.compile, sam.runtime, config.device)
    reid = config.reid
    embedder = (reid.timm_model, reid.embedder_weights) if reid.enabled and reid.timm_model is not None else ()
    if detector is None:
        return ModelsKey(engine, None, embedder)
    exported = (sam.runtime, detector.imgsz) if exports_detector(config) else ()  # an export has one input size
    sized = (detector.imgsz,) if is_sam3_detector(detector.weights) else ()  # SAM 3's detector is built per size
    return ModelsKey(engine, (detector.weights, detector.text is not None or is_open_vocabulary(detector.weights),
                              *exported, *sized), embedder)


def exports_detector(config: PipelineConfig) -> bool:
    """Whether the config's detector runs exported, on the pipeline's graph runtime (`sam.runtime`): a closed-set
    YOLO does; SAM 3's concept detector and open-vocabulary ones (YOLOE, YOLO-World) stay in PyTorch."""
    from autotrack.prompters.yoloe import is_open_vocabulary
    from autotrack.weights import is_sam3_detector

    detector = config.detector
    return (detector is not None and config.sam.runtime != "torch" and detector.text is None
            and not is_open_vocabulary(detector.weights) and not is_sam3_detector(detector.weights))


def detector_settings(config: PipelineConfig) -> dict:
    """A session's own detector settings, for `Prompter.session`: the detector config but its weights."""
    if config.detector is None:
        return {}
    settings = asdict(config.detector)
    del settings["weights"]
    return settings


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
        reid = config.reid
        embedder = models.embedder if reid.enabled else None  # a learned embedder's vectors replace the engine's
        tracker = models.engine.session(config.sam.memory, config.sam.kalman, profile,
                                        reid.embedding if reid.enabled and embedder is None else None)
        points = build_points(config)
        prompter = models.prompter.session(**detector_settings(config)) if models.prompter is not None else None
    src = source if isinstance(source, Source) else open_source(source, **(source_options or {}))
    with _closed_on_error(src):
        if prompts is not None and src is not source:  # a source opened here (a live one): its size is known now
            prompts.check(src.size, src.total)
        sinks = [*sinks, *(outputs.open(src.fps) if outputs is not None else [])]
    identity = IdentityManager(config.identity, Reidentifier(reid) if reid.enabled else None)
    return Pipeline(src, prompter, tracker, sinks=sinks, identity=identity,
                    prompts=prompts, max_frames=max_frames, points=points, embedder=embedder,
                    detector_lock=models.detector_lock)


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
    """The configured detector, or None for a pipeline without one: SAM 3's concept detector when the weights are
    `sam3` or a checkpoint folder; YOLOE or YOLO-World when the detector has text or its weights name one (open
    vocabulary); else YOLO, exported for the pipeline's graph runtime when it has one (`exports_detector`)."""
    if config.detector is None:
        return None
    from autotrack.prompters.sam3 import Sam3Prompter
    from autotrack.weights import is_sam3_detector
    from autotrack.prompters.yolo import YoloPrompter
    from autotrack.prompters.yoloe import YoloePrompter, is_open_vocabulary

    options = asdict(config.detector)
    if is_sam3_detector(options["weights"]):
        weights = None if options["weights"] == "sam3" else options["weights"]
        return Sam3Prompter(weights, options["text"], options["conf"], options["imgsz"], options["every"],
                            config.device)
    if options["text"] is not None or is_open_vocabulary(options["weights"]):
        return YoloePrompter(**options, device=config.device)
    del options["text"]  # always None here: a closed-set YOLO reads no text
    exported = None
    if exports_detector(config):
        from autotrack.runtimes.detector import exported_detector

        exported = exported_detector(YoloPrompter.model_file(options["weights"]), config.sam.runtime,
                                     options["imgsz"])
    return YoloPrompter(**options, device=config.device, exported=exported)


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
