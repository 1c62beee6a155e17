"""The runs of a bench, each over a `Clip` with its boxes prompted on frame 0, and what `autotrack bench` compares.

- `run_pipeline`: the whole pipeline; a frame's time splits into decode, prompter, the engine's stages (image
  encoder, memory attention, decoder, memory encoder, `engine_other` = the engine's own code), identity and sinks.
- `run_engine`: `SAM2Tracker` alone (decode, then the engine's stages).
- `run_ultralytics`: ultralytics' `SAM2VideoPredictor` with the same weights file (its preprocess, inference and
  postprocess; `decode` is the rest of the frame's time: reading the frame and the predictor's loop).

ultralytics' predictor runs a model whose spec says so (`ModelSpec.ultralytics_predictor`: it builds with
ultralytics' SAM2 builders) from the same file as ours. A pipeline on any other model (EdgeTAM, SAM 3) is compared
with the same pipeline on SAM2.1-tiny (`BASELINE`), in the same precisions, and the predictor runs SAM2.1-tiny (at
the nearest input size SAM2.1-tiny takes: `baseline_imgsz`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from autotrack.bench.clips import Clip, clip_prompts
from autotrack.bench.stats import RunResult
from autotrack.bench.timing import FrameClock, TimedPrompter, TimedSink, TimedSource, TimedTracker, measure
from autotrack.config import PipelineConfig, load_config
from autotrack.models import SAM2Tracker, family_of
from autotrack.pipeline import Pipeline, check_weights, load_models, new_session
from autotrack.prompters.manual import ManualPrompts, UserPrompt
from autotrack.runtimes.load import holds_random_weights, load_torch_reference, runtime_precision
from autotrack.runtimes.manifest import WEIGHTS, is_export, read_manifest
from autotrack.sinks import MotSink, Sink
from autotrack.sources import open_source
from autotrack.types import Tracker
from autotrack.weights import get_spec

if TYPE_CHECKING:
    from autotrack.engine.engine import EngineModel

ULTRALYTICS = "ultralytics SAM2VideoPredictor"
BASELINE = "sam2.1_t"  # what a model ultralytics' predictor cannot run is measured against

# Random weights give every object nearly the same mask: the identity manager would let all but one yield (mask
# IoU > 0.8) and retire them, and a run for N objects would time one. With random weights the bench keeps every
# prompted object, so it measures the cost of N objects; an explicit override still wins.
KEEP_EVERY_OBJECT = {"identity.overlap_iou": 1.0, "identity.max_lost": 1_000_000_000}


def bench_config(pipeline: str, overrides: Mapping[str, object] | None = None,
                 labels: Mapping[str, str] | None = None) -> PipelineConfig:
    """The pipeline config a bench runs: `overrides` (named in errors by `labels`) as `load_config` takes them.

    An exported folder as `sam.weights` is checked first, as `track` checks it (one line, before any model loads,
    for `--runtime torch` or a folder exported for another model, input size or precision); one exported from random
    weights counts as random weights (`holds_random_weights`)."""
    config = load_config(pipeline, overrides, labels)
    exported = is_export(config.sam.weights)
    if exported:
        check_weights(config)
    if config.sam.weights == "random" or (exported and holds_random_weights(config.sam.weights)):
        config = load_config(pipeline, {**KEEP_EVERY_OBJECT, **(overrides or {})}, labels)
    return config


def run_engine(clip: Clip, tracker: SAM2Tracker, warmup: int = 3, name: str = "autotrack engine") -> RunResult:
    """SAM2Tracker alone on the clip: decode, then `step` (split into its stages)."""
    clock = FrameClock()
    timed = TimedTracker(tracker, clock)
    source = TimedSource(open_source(str(clip.video)), clock)

    def frames() -> Iterator[None]:
        with source:
            for frame in source:
                if frame.index >= clip.frames:
                    return
                timed.step(frame.image, clip_prompts(clip) if frame.index == 0 else None)
                yield

    result = measure(name, frames(), clock, warmup)
    result.memory_entries = {i: tracker.memory_entries(i) for i in tracker.object_ids}
    return result


def timed_pipeline(config: PipelineConfig, clip: Clip, clock: FrameClock, sinks: list[Sink],
                   engine: Callable[[], EngineModel] | None = None) -> tuple[Pipeline, Tracker]:
    """The pipeline of `config` over the clip, with the clip's boxes as user prompts on frame 0, its source,
    prompter, engine and sinks timed on `clock`; and its engine (for the memory entries it holds at the end).
    `engine` loads the engine's model instead of `load_models`."""
    models = load_models(config, engine() if engine is not None else None)
    if models.prompter is not None:
        models = dataclasses.replace(models, prompter=TimedPrompter(models.prompter, clock))
    prompts = ManualPrompts([UserPrompt(i, 0, prompt) for i, prompt in clip_prompts(clip).items()])
    source = TimedSource(open_source(str(clip.video)), clock)
    pipeline = new_session(models, config, source, [TimedSink(sink, clock) for sink in sinks], prompts, clip.frames,
                           profile=True)
    engine = pipeline.tracker
    pipeline.tracker = TimedTracker(engine, clock)
    return pipeline, engine


def run_pipeline(clip: Clip, config: PipelineConfig, warmup: int = 3, name: str | None = None,
                 work_dir: str | Path | None = None, engine: Callable[[], EngineModel] | None = None) -> RunResult:
    """A whole pipeline (a `PipelineConfig`) on the clip, with the clip's boxes as user prompts on frame 0.

    Results go to a MOTChallenge file in `work_dir` (the "sinks" stage), or nowhere when it is None. `engine` loads
    the engine's model instead of `load_models` (the torch model of an exported folder: `load_torch_reference`).
    """
    clock = FrameClock()
    mot = Path(work_dir or ".") / f"{config.sam.model}-{config.sam.memory}-{config.sam.precision}.txt"
    pipeline, engine = timed_pipeline(config, clip, clock, [MotSink(mot)] if work_dir else [], engine)
    result = measure(name or f"autotrack {config.sam.memory}", pipeline.stream(), clock, warmup, rest="identity")
    result.memory_entries = {i: engine.memory_entries(i) for i in engine.object_ids}
    return result


def run_ultralytics(clip: Clip, weights_file: str | Path, imgsz: int, device: str = "auto", warmup: int = 3,
                    name: str = ULTRALYTICS) -> RunResult:
    """ultralytics' SAM2VideoPredictor on the clip with the same boxes; `weights_file` must be named like
    `sam2.1_t.pt` (ultralytics picks the architecture from the file name)."""
    from ultralytics.models.sam import SAM2VideoPredictor

    from autotrack.device import ultralytics_device

    overrides = dict(conf=0.0, task="segment", mode="predict", imgsz=imgsz, model=str(weights_file), save=False,
                     verbose=False, device=ultralytics_device(device))
    predictor = SAM2VideoPredictor(overrides=overrides)
    clock = FrameClock()

    def frames() -> Iterator[None]:
        stream = predictor(source=str(clip.video), bboxes=clip.boxes.tolist(), stream=True)
        for index, result in enumerate(stream):
            for stage, ms in result.speed.items():
                clock.current[stage] += ms / 1000
            yield
            if index + 1 >= clip.frames:
                return

    return measure(name, frames(), clock, warmup, rest="decode")


def pipeline_contenders(clip: Clip, config: PipelineConfig, weights: Path, warmup: int = 3,
                        work_dir: str | Path | None = None,
                        ultralytics: bool = True) -> dict[str, Callable[[], RunResult]]:
    """What `autotrack bench` compares: the pipeline as configured (its model and precision named, e.g. "autotrack
    sam2.1_t bf16 (auto)"), the same pipeline in fp32 when that differs, the pipeline on its graph runtime when
    `sam.runtime` names one (in PyTorch otherwise; named with the runtime's precision, e.g. "autotrack edgetam
    openvino int8"), and ultralytics' SAM2VideoPredictor (`ULTRALYTICS`) on the `weights` file (see
    `sam2_weights_file`). A pipeline on a model the predictor cannot run (EdgeTAM) also runs on SAM2.1-tiny with
    `weights`, in the same precisions (see `baseline_pairs`). When `sam.weights` is an exported folder, the runtime
    runs it and PyTorch the weights it was exported from (`load_torch_reference`)."""
    from autotrack.device import resolve_device
    from autotrack.engine.precision import resolve_precision

    precision = resolve_precision(config.sam.precision, resolve_device(config.device))
    label = f"{precision} (auto)" if config.sam.precision == "auto" else precision
    precisions = {label: config.sam.precision, **({"fp32": "fp32"} if precision != "fp32" else {})}
    folder = config.sam.weights if is_export(config.sam.weights) else None
    imgsz = config.sam.imgsz
    if get_spec(config.sam.model).ultralytics_predictor:  # ours and ultralytics' load one file
        models = {config.sam.model: (str(weights), imgsz)}
    else:
        imgsz = baseline_imgsz(imgsz)
        models = {config.sam.model: (config.sam.weights, config.sam.imgsz), BASELINE: (str(weights), imgsz)}
    if folder is not None:  # the file the folder's weights are in, named in the config and the report
        models[config.sam.model] = (str(Path(folder) / WEIGHTS), config.sam.imgsz)
    configs = {f"autotrack {model} {name}": dataclasses.replace(config, sam=dataclasses.replace(
        config.sam, model=model, weights=model_weights, imgsz=model_imgsz, precision=value, runtime="torch"))
        for model, (model_weights, model_imgsz) in models.items() for name, value in precisions.items()}
    engines = {name: functools.partial(load_torch_reference, folder, c.sam.model, c.sam.imgsz, c.device,
                                       c.sam.precision, c.sam.compile)
               for name, c in configs.items() if folder is not None and c.sam.model == config.sam.model}
    if config.sam.runtime != "torch":  # the runtime beside torch, on the same weights
        sam = dataclasses.replace(config.sam, weights=folder or models[config.sam.model][0])
        chosen = read_manifest(Path(folder)).precision if folder else runtime_precision(sam.runtime, sam.precision)
        configs[f"autotrack {sam.model} {sam.runtime} {chosen}"] = dataclasses.replace(config, sam=sam)
    contenders = {name: functools.partial(run_pipeline, clip, c, warmup, name, work_dir, engines.get(name))
                  for name, c in configs.items()}
    if ultralytics:
        contenders[ULTRALYTICS] = functools.partial(run_ultralytics, clip, weights, imgsz, config.device, warmup)
    return contenders


def baseline_imgsz(imgsz: int) -> int:
    """The input size SAM2.1-tiny runs at beside a model of input size `imgsz`: the nearest one it takes (SAM 3's
    1008, a multiple of 14, gives 1024)."""
    step = family_of(BASELINE).imgsz_multiple
    return max(step, step * round(imgsz / step))


def runtime_pairs(names: list[str], model: str, runtime: str) -> dict[str, str]:
    """For contenders named by `pipeline_contenders`: each run of `model` on the graph `runtime` and the PyTorch run
    of `model` in the configured precision (the first), {"autotrack edgetam openvino int8": "autotrack edgetam fp32
    (auto)"}; none when the runtime is torch."""
    prefix, on_runtime = f"autotrack {model} ", f"autotrack {model} {runtime} "
    graphs = [name for name in names if name.startswith(on_runtime)]
    in_torch = [name for name in names if name.startswith(prefix) and name not in graphs]
    return {name: in_torch[0] for name in graphs} if runtime != "torch" and in_torch else {}


def baseline_pairs(names: list[str], model: str) -> dict[str, str]:
    """For contenders named by `pipeline_contenders`: each run of `model` and the SAM2.1-tiny run in the same
    precision, {"autotrack edgetam bf16 (auto)": "autotrack sam2.1_t bf16 (auto)", ...}; none for a model that is
    compared with ultralytics' predictor directly."""
    prefix, baseline = f"autotrack {model} ", f"autotrack {BASELINE} "
    return {name: baseline + name.removeprefix(prefix) for name in names
            if model != BASELINE and name.startswith(prefix) and baseline + name.removeprefix(prefix) in names}


def sam2_weights_file(config: PipelineConfig, work_dir: str | Path) -> Path:
    """The weights file ultralytics' predictor loads in a bench (see `weights_file`): the pipeline's model's when
    the predictor runs that model (an exported folder's `WEIGHTS`), else SAM2.1-tiny's (random when the pipeline's
    weights are, or are an exported folder)."""
    sam = config.sam
    exported = is_export(sam.weights)
    if get_spec(sam.model).ultralytics_predictor:
        return weights_file(sam.model, str(Path(sam.weights) / WEIGHTS) if exported else sam.weights, work_dir)
    return weights_file(BASELINE, "random" if sam.weights == "random" or exported else None, work_dir)


def weights_file(model: str, weights: str | None, work_dir: str | Path) -> Path:
    """A weights file both engines load, named `<model>.pt` as ultralytics needs: random weights saved, or a link
    to the resolved file."""
    from autotrack.models.sam2.build import build_model
    from autotrack.weights import resolve_weights

    path = Path(work_dir) / f"{get_spec(model).name}.pt"
    if weights == "random":
        torch.save(build_model(model, "random").state_dict(), path)
    else:
        path.symlink_to(resolve_weights(model, weights).resolve())
    return path
