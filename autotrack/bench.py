"""Speed and memory of autotrack on one clip, side by side with ultralytics' SAM2VideoPredictor.

Every run reads the same video file (a given one, or a synthetic clip written first), prompts the same boxes on
frame 0 and records, for every frame, its time split by stage and the process's resident memory (RSS). The first
`warmup` frames (the prompted frame among them) are left out of the speed figures. Three kinds of run:

- `run_pipeline`: the whole pipeline; a frame's time splits into decode, prompter, the engine's stages (image
  encoder, memory attention, decoder, memory encoder, `engine_other` = the engine's own code), identity and sinks.
- `run_engine`: `SAM2Tracker` alone (decode, then the engine's stages).
- `run_ultralytics`: ultralytics' `SAM2VideoPredictor` with the same weights file (its preprocess, inference and
  postprocess; `decode` is the rest of the frame's time: reading the frame and the predictor's loop).

    clip = make_clip(None, frames=60, objects=3, work_dir="bench-work")
    results = [run_engine(clip, tracker), run_ultralytics(clip, weights_file, imgsz=512)]
    print(format_report(results))

A pipeline whose model is not SAM2 (EdgeTAM) is compared with the same pipeline on SAM2.1-tiny (`BASELINE`), in
the same precisions, and ultralytics' predictor runs SAM2.1-tiny: it knows no other family.

`autotrack bench` (autotrack/cli/bench.py) and `benchmarks/bench_engine.py` drive these functions.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import supervision as sv
import torch

from autotrack.errors import InputError
from autotrack.eval.synthetic import make_scenario, render_frame
from autotrack.pipeline import load_models, new_session
from autotrack.prompters.base import Prompter
from autotrack.prompters.manual import ManualPrompts, UserPrompt
from autotrack.sam2.engine import STAGES, SAM2Tracker
from autotrack.sinks import MotSink, Sink
from autotrack.sinks.video import open_video_writer
from autotrack.sources import Source, open_source
from autotrack.sources.video import VideoSource
from autotrack.types import FrameResult, ObjectState, Prompt, Tracker

MB = 1024 * 1024
ENGINE_STAGES = (*STAGES, "engine_other")
PIPELINE_STAGES = ("decode", "prompter", *ENGINE_STAGES, "identity", "sinks")
SYNTHETIC_SIZE = (960, 540)  # (width, height), the size of the SAM2 demo videos
ULTRALYTICS = "ultralytics SAM2VideoPredictor"
BASELINE = "sam2.1_t"  # what a model of another family is measured against


@dataclass
class Clip:
    """A video file every run reads, and the boxes (xyxy, frame pixels) prompted on its first frame."""

    video: Path
    boxes: np.ndarray
    frames: int  # frames each run processes


@dataclass
class RunResult:
    """Per-frame measurements of one run (warm-up frames included); `summary()` turns them into figures."""

    name: str
    warmup: int
    seconds: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    rss: list[int] = field(default_factory=list)  # bytes, after each frame
    memory_entries: dict[int, int] = field(default_factory=dict)  # per object at the end (autotrack runs)

    def add(self, seconds: float, stages: dict[str, float], rss: int) -> None:
        """Record one frame; a stage missing on a frame counts 0 there, so every series has one value per frame."""
        self.seconds.append(seconds)
        for name in dict.fromkeys([*self.stages, *stages]):
            self.stages.setdefault(name, [0.0] * (len(self.seconds) - 1)).append(stages.get(name, 0.0))
        self.rss.append(rss)

    def summary(self) -> dict:
        """fps (whole frame and without decode), mean ms per stage, peak RSS and its growth after the warm-up."""
        timed = np.array(self.seconds[self.warmup :])
        stages_ms = {name: 1000 * float(np.mean(values[self.warmup :])) for name, values in self.stages.items()}
        decode = np.array(self.stages.get("decode", [0.0] * len(self.seconds))[self.warmup :])
        return {
            "frames": len(timed),
            "fps": float(1 / timed.mean()) if len(timed) else 0.0,
            "fps_without_decode": float(1 / (timed - decode).mean()) if len(timed) else 0.0,
            "ms_per_frame": 1000 * float(timed.mean()) if len(timed) else 0.0,
            "stages_ms": stages_ms,
            "peak_rss_mb": max(self.rss, default=0) / MB,
            "rss_growth_mb": (self.rss[-1] - self.rss[max(self.warmup - 1, 0)]) / MB if self.rss else 0.0,
            "memory_entries": dict(self.memory_entries),
        }


# Random weights give every object nearly the same mask: the identity manager would let all but one yield (mask
# IoU > 0.8) and retire them, and a run for N objects would time one. With random weights the bench keeps every
# prompted object, so it measures the cost of N objects; an explicit --set still wins.
KEEP_EVERY_OBJECT = ("identity.overlap_iou=1.0", "identity.max_lost=1000000000")


def bench_config(pipeline: str, sam_weights: str | None, imgsz: int, device: str | None, sets=()):
    """The pipeline config a bench runs."""
    from autotrack.config import load_config

    keep = list(KEEP_EVERY_OBJECT) if sam_weights == "random" else []
    given = {"sam.weights": sam_weights, "sam.imgsz": imgsz, "device": device}
    return load_config(pipeline, [f"{k}={v}" for k, v in given.items() if v is not None] + keep + list(sets))


# --------------------------------------------------------------------------------------------------------- clips
def make_clip(source: str | Path | None, frames: int, objects: int, work_dir: str | Path,
              size: tuple[int, int] = SYNTHETIC_SIZE) -> Clip:
    """The clip to run: a video file, or (source None) the synthetic "mixed" scenario written to an mp4.

    The synthetic clip is prompted with its objects' true boxes; a video with `objects` boxes spread side by side
    across the middle of the frame. A video shorter than `frames` is run to its end.
    """
    if frames < 2:
        raise InputError(f"a benchmark needs at least 2 frames, got {frames}")
    if objects < 1:
        raise InputError(f"a benchmark needs at least 1 object, got {objects}")
    if source is None:
        scenario = make_scenario("mixed", n_frames=frames, size=size, seed=0)
        video = Path(work_dir) / "synthetic.mp4"
        writer = open_video_writer(video, scenario.fps, size)
        try:
            for index in range(frames):
                frame, truth = render_frame(scenario, index)
                writer.write(frame)
                if index == 0:
                    boxes = truth.boxes
        finally:
            writer.release()
        if objects > len(boxes):
            raise InputError(f"the synthetic clip has {len(boxes)} objects on its first frame, not {objects}")
        return Clip(video, boxes[:objects], frames)
    with open_source(str(source)) as src:
        if not isinstance(src, VideoSource):
            raise InputError(f"{source}: give a video file (ultralytics' video predictor reads only those)")
        return Clip(Path(source), spread_boxes(src.size, objects), min(frames, src.total))


def spread_boxes(size: tuple[int, int], n: int) -> np.ndarray:
    """n boxes side by side across the middle of a (width, height) frame: stand-in prompts for an unlabelled video."""
    width, height = size
    step = width / n
    return np.array([[i * step + 0.1 * step, 0.3 * height, (i + 1) * step - 0.1 * step, 0.7 * height]
                     for i in range(n)], dtype=np.float32)


def clip_prompts(clip: Clip) -> dict[int, Prompt]:
    """The clip's boxes as prompts with object ids 1, 2, ..."""
    return {k + 1: Prompt(box=box) for k, box in enumerate(clip.boxes)}


# ------------------------------------------------------------------------------------------------ stage timing
class FrameClock:
    """Seconds spent per stage on the current frame; `take()` hands them over and starts the next frame."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    @contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.current[stage] += time.perf_counter() - start

    def take(self) -> dict[str, float]:
        stages, self.current = dict(self.current), defaultdict(float)
        return stages


class TimedSource(Source):
    """A source whose frame reads count as "decode"."""

    def __init__(self, source: Source, clock: FrameClock) -> None:
        super().__init__()
        self.source, self.clock = source, clock
        self.fps, self.size, self.total, self.stats = source.fps, source.size, source.total, source.stats

    def __iter__(self) -> Iterator:
        frames = iter(self.source)
        while True:
            with self.clock.time("decode"):
                frame = next(frames, None)
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self.source.close()


class TimedPrompter(Prompter):
    """A prompter whose calls count as "prompter"."""

    def __init__(self, prompter: Prompter, clock: FrameClock) -> None:
        self.prompter, self.clock = prompter, clock

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        with self.clock.time("prompter"):
            return self.prompter(frame, frame_index)

    def reset(self) -> None:
        self.prompter.reset()


class TimedTracker(Tracker):
    """An engine (built with profile=True) whose `step` time is split into its stages and `engine_other`."""

    def __init__(self, tracker: SAM2Tracker, clock: FrameClock) -> None:
        if not tracker.profile:
            raise TypeError("TimedTracker needs a SAM2Tracker built with profile=True")
        self.tracker, self.clock = tracker, clock
        self.device, self.precision = tracker.device, tracker.precision

    def step(self, frame: np.ndarray, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]:
        before = dict(self.tracker.timings)
        start = time.perf_counter()
        states = self.tracker.step(frame, prompts)
        total = time.perf_counter() - start
        for stage in STAGES:
            spent = self.tracker.timings.get(stage, 0.0) - before.get(stage, 0.0)
            self.clock.current[stage] += spent
            total -= spent
        self.clock.current["engine_other"] += total
        return states

    def remove(self, obj_id: int) -> None:
        self.tracker.remove(obj_id)

    def reset(self) -> None:
        self.tracker.reset()

    @property
    def object_ids(self) -> list[int]:
        return self.tracker.object_ids

    def memory_entries(self, obj_id: int) -> int:
        return self.tracker.memory_entries(obj_id)


class TimedSink(Sink):
    """A sink whose writes count as "sinks"."""

    def __init__(self, sink: Sink, clock: FrameClock) -> None:
        self.sink, self.clock = sink, clock

    def write(self, result: FrameResult) -> None:
        with self.clock.time("sinks"):
            self.sink.write(result)

    def close(self) -> None:
        self.sink.close()


def measure(name: str, frames: Iterator, clock: FrameClock, warmup: int, rest: str | None = None) -> RunResult:
    """Run `frames` (an iterator that does one frame's work per item) and record each frame.

    `rest` names the stage that gets the frame time no other stage claimed (e.g. "identity" in a pipeline run).
    ultralytics sets torch's CPU thread count (to cpu_count - 1) when it sets a predictor up, inside the first
    frame; every frame is run with the thread count the caller had, so all runs compare on equal terms.
    """
    result = RunResult(name, warmup)
    process = psutil.Process()
    threads = torch.get_num_threads()
    start = time.perf_counter()
    for _ in frames:
        seconds = time.perf_counter() - start
        stages = clock.take()
        if rest is not None:
            stages[rest] = stages.get(rest, 0.0) + seconds - sum(stages.values())
        result.add(seconds, stages, process.memory_info().rss)
        torch.set_num_threads(threads)
        start = time.perf_counter()
    return result


# ------------------------------------------------------------------------------------------------------- runs
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


def run_pipeline(clip: Clip, config, warmup: int = 3, name: str | None = None,
                 work_dir: str | Path | None = None) -> RunResult:
    """A whole pipeline (a `PipelineConfig`) on the clip, with the clip's boxes as user prompts on frame 0.

    Results go to a MOTChallenge file in `work_dir` (the "sinks" stage), or nowhere when it is None.
    """
    clock = FrameClock()
    models = load_models(config)
    if models.prompter is not None:
        models = dataclasses.replace(models, prompter=TimedPrompter(models.prompter, clock))
    mot = Path(work_dir or ".") / f"{config.sam.model}-{config.sam.memory}-{config.sam.precision}.txt"
    sinks = [TimedSink(MotSink(mot), clock)] if work_dir else []
    prompts = ManualPrompts([UserPrompt(i, 0, prompt) for i, prompt in clip_prompts(clip).items()])
    source = TimedSource(open_source(str(clip.video)), clock)
    pipeline = new_session(models, config, source, sinks, prompts, clip.frames, profile=True)
    engine = pipeline.tracker
    pipeline.tracker = TimedTracker(engine, clock)
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


def pipeline_contenders(clip: Clip, config, weights: Path, warmup: int = 3, work_dir: str | Path | None = None,
                        ultralytics: bool = True) -> dict[str, Callable[[], RunResult]]:
    """What `autotrack bench` compares: the pipeline as configured (its model and precision named, e.g. "autotrack
    sam2.1_t bf16 (auto)"), the same pipeline in fp32 when that differs, and ultralytics' SAM2VideoPredictor
    (`ULTRALYTICS`) on the SAM2 `weights` file. A pipeline on another model family (EdgeTAM) also runs on
    SAM2.1-tiny with `weights`, in the same precisions (see `baseline_pairs`)."""
    from autotrack.device import resolve_device
    from autotrack.sam2.precision import resolve_precision
    from autotrack.weights import get_spec

    precision = resolve_precision(config.sam.precision, resolve_device(config.device))
    label = f"{precision} (auto)" if config.sam.precision == "auto" else precision
    precisions = {label: config.sam.precision, **({"fp32": "fp32"} if precision != "fp32" else {})}
    if get_spec(config.sam.model).family == "sam2":  # ours and ultralytics' load one file
        models = {config.sam.model: str(weights)}
    else:
        models = {config.sam.model: config.sam.weights, BASELINE: str(weights)}
    configs = {f"autotrack {model} {name}": dataclasses.replace(config, sam=dataclasses.replace(
        config.sam, model=model, weights=model_weights, precision=value))
        for model, model_weights in models.items() for name, value in precisions.items()}
    contenders = {name: functools.partial(run_pipeline, clip, c, warmup, name, work_dir) for name, c in configs.items()}
    if ultralytics:
        contenders[ULTRALYTICS] = functools.partial(run_ultralytics, clip, weights, config.sam.imgsz, config.device,
                                                    warmup)
    return contenders


def baseline_pairs(names: list[str], model: str) -> dict[str, str]:
    """For contenders named by `pipeline_contenders`: each run of `model` and the SAM2.1-tiny run in the same
    precision, {"autotrack edgetam bf16 (auto)": "autotrack sam2.1_t bf16 (auto)", ...}; none for a SAM2 model."""
    prefix, baseline = f"autotrack {model} ", f"autotrack {BASELINE} "
    return {name: baseline + name.removeprefix(prefix) for name in names
            if model != BASELINE and name.startswith(prefix) and baseline + name.removeprefix(prefix) in names}


# ------------------------------------------------------------------------------------------------------ rounds
def run_rounds(contenders: dict[str, Callable[[], RunResult]], rounds: int) -> dict[str, list[RunResult]]:
    """Run each contender (a function that runs it once over the clip) `rounds` times, the order rotated every round
    (A B C, B C A, C A B, ...), so that no contender always runs first, after the same one, or in the same phase of
    the machine's background load. Returns each contender's runs, in round order."""
    if rounds < 1:
        raise InputError(f"a benchmark needs at least 1 round, got {rounds}")
    names = list(contenders)
    results: dict[str, list[RunResult]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(contenders[name]())
    return results


def summarize_rounds(runs: list[RunResult]) -> dict:
    """One contender over its rounds: mean ms per frame and per stage over the rounds (fps from that), each round's
    fps and their spread ((max - min) / median), the highest peak and growth of resident memory."""
    rounds = [r.summary() for r in runs]
    fps = [s["fps"] for s in rounds]
    ms = float(np.mean([s["ms_per_frame"] for s in rounds]))
    decode = float(np.mean([s["stages_ms"].get("decode", 0.0) for s in rounds]))
    stages = list(dict.fromkeys(name for s in rounds for name in s["stages_ms"]))
    return {
        "frames": sum(s["frames"] for s in rounds),
        "fps": 1000 / ms if ms else 0.0,
        "fps_without_decode": 1000 / (ms - decode) if ms > decode else 0.0,
        "ms_per_frame": ms,
        "stages_ms": {name: float(np.mean([s["stages_ms"].get(name, 0.0) for s in rounds])) for name in stages},
        "fps_rounds": fps,
        "spread": (max(fps) - min(fps)) / float(np.median(fps)) if np.median(fps) else 0.0,
        "peak_rss_mb": max(s["peak_rss_mb"] for s in rounds),
        "rss_growth_mb": max(s["rss_growth_mb"] for s in rounds),
        "memory_entries": rounds[-1]["memory_entries"],
    }


def ratios(results: dict[str, list[RunResult]], reference: str) -> dict[str, list[float]]:
    """fps of each other contender over the reference's, round by round (runs of one round are neighbours)."""
    return pair_ratios(results, {name: reference for name in results if name != reference})


def pair_ratios(results: dict[str, list[RunResult]], pairs: dict[str, str]) -> dict[str, list[float]]:
    """fps of each contender in `pairs` over its partner's, round by round."""
    fps = {name: [r.summary()["fps"] for r in runs] for name, runs in results.items()}
    return {name: [a / b for a, b in zip(fps[name], fps[partner])] for name, partner in pairs.items()}


# ------------------------------------------------------------------------------------------------- reporting
def named_ratios(results: dict[str, list[RunResult]], reference: str | None = None,
                 pairs: dict[str, str] | None = None) -> dict[str, list[float]]:
    """{"a / b": per-round fps ratios}: every contender to the reference contender, then each of `pairs`."""
    named = {}
    if reference is not None and reference in results:
        named.update({f"{name} / {reference}": values for name, values in ratios(results, reference).items()})
    for name, values in pair_ratios(results, pairs or {}).items():
        named[f"{name} / {pairs[name]}"] = values
    return named


def format_report(results: dict[str, list[RunResult]], reference: str | None = None,
                  pairs: dict[str, str] | None = None) -> str:
    """A line of figures per contender, the ratios to the reference contender and between `pairs` of contenders
    (round by round), and each contender's split of its frame time by stage."""
    summaries = {name: summarize_rounds(runs) for name, runs in results.items()}
    rounds = max(len(runs) for runs in results.values())
    header = (f"{'run':34s}{'frames':>7s}{'fps':>8s}{'fps*':>8s}{'ms/frame':>10s}{'spread':>8s}{'peak RSS MB':>13s}"
              f"{'RSS growth MB':>15s}")
    lines = [header]
    for name, s in summaries.items():
        lines.append(f"{name:34s}{s['frames']:>7d}{s['fps']:>8.2f}{s['fps_without_decode']:>8.2f}"
                     f"{s['ms_per_frame']:>10.1f}{100 * s['spread']:>7.0f}%{s['peak_rss_mb']:>13.0f}"
                     f"{s['rss_growth_mb']:>15.1f}")
    lines.append(f"(over {rounds} round(s), the order rotated each round; fps* leaves out decoding; spread: "
                 f"(max - min) / median of the rounds' fps; the first frames of each run are a warm-up, not timed)")
    for name, values in named_ratios(results, reference, pairs).items():
        lines.append(f"{name}: {np.median(values):.2f}x (rounds: {', '.join(f'{v:.2f}' for v in values)})")
    for name, s in summaries.items():
        total = sum(s["stages_ms"].values()) or 1.0
        split = ", ".join(f"{stage} {ms:.1f} ms ({100 * ms / total:.0f}%)" for stage, ms in s["stages_ms"].items())
        lines.append(f"{name}: {split}")
        if s["memory_entries"]:
            lines.append(f"{name}: memory entries per object {s['memory_entries']}")
    return "\n".join(lines)


def report_dict(results: dict[str, list[RunResult]], settings: dict, reference: str | None = None,
                pairs: dict[str, str] | None = None) -> dict:
    """JSON-ready: the settings; per contender its summary over the rounds and each round's summary with per-frame
    ms and RSS MB; the ratios to the reference and between `pairs` per round."""
    runs = {}
    for name, rounds in results.items():
        runs[name] = {**summarize_rounds(rounds), "rounds": [
            {**r.summary(), "per_frame": {"ms": [1000 * s for s in r.seconds], "rss_mb": [b / MB for b in r.rss]}}
            for r in rounds]}
    report = {"settings": settings, "runs": runs}
    named = named_ratios(results, reference, pairs)
    if named:
        report["ratios"] = named
    return report


def save_plot(results: dict[str, list[RunResult]], path: str | Path, title: str = "") -> None:
    """PNG with two panels: time per frame and resident memory, one line per contender (its first round)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (speed, memory) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name, runs in results.items():
        speed.plot([1000 * s for s in runs[0].seconds], label=name)
        memory.plot([b / MB for b in runs[0].rss], label=name)
    speed.set_ylabel("ms per frame")
    speed.set_yscale("log")
    speed.legend()
    memory.set_ylabel("resident memory (MB)")
    memory.set_xlabel("frame")
    if title:
        speed.set_title(title)
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def sam2_weights_file(config, work_dir: str | Path) -> Path:
    """The SAM2 weights file of a bench (see `weights_file`): the pipeline's model's, or beside another family
    SAM2.1-tiny's, random when the pipeline's weights are."""
    from autotrack.weights import get_spec

    if get_spec(config.sam.model).family == "sam2":
        return weights_file(config.sam.model, config.sam.weights, work_dir)
    return weights_file(BASELINE, "random" if config.sam.weights == "random" else None, work_dir)


def weights_file(model: str, weights: str | None, work_dir: str | Path) -> Path:
    """A SAM2 weights file both engines load, named `<model>.pt` as ultralytics needs: random weights saved, or a
    link to the resolved file."""
    from autotrack.sam2.build import build_model
    from autotrack.weights import get_spec, resolve_weights

    path = Path(work_dir) / f"{get_spec(model).name}.pt"
    if weights == "random":
        torch.save(build_model(model, "random").state_dict(), path)
    else:
        path.symlink_to(resolve_weights(model, weights).resolve())
    return path
