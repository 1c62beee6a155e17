"""Run one pipeline over many videos: on this machine with a process pool, or as Ray tasks on a cluster.

    results = run(["videos/", "more.txt"], "yolo-sam2", "out/")          # process pool, one process per core
    results = run(inputs, "yolo-sam2", "out/", ray="auto", gpus_per_task=1)  # one Ray task per input

Each input writes `out/<name>/tracks.txt` (MOT), `tracks.json` (COCO), `tracked.mp4` (only with
`save_video=True`) and, last and atomically, `summary.json`: that file marks the input complete, so a re-run skips
it. A failed input is retried, then reported; it never stops the others. `out/summary.json` lists every input.
"""

from __future__ import annotations

import concurrent.futures as cf
import glob
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from autotrack.config import PipelineConfig, load_config
from autotrack.errors import AutotrackError, InputError, one_line
from autotrack.paths import NamedPath, check_paths, source_paths
from autotrack.prompters.manual import ManualPrompts
from autotrack.sources.images import IMAGE_EXTENSIONS, _natural_key
from autotrack.sources.live import URL_SCHEMES

if TYPE_CHECKING:
    from autotrack.pipeline import Models

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")
SUMMARY = "summary.json"
MOT_FILE, JSON_FILE, VIDEO_FILE = "tracks.txt", "tracks.json", "tracked.mp4"


@dataclass
class InputResult:
    """What happened to one input. `status` is "ok", "failed" or "skipped" (complete from an earlier run);
    `fps` is the processing speed; `error` is a one-line message when failed."""

    input: str
    name: str
    status: str
    frames: int = 0
    fps: float = 0.0
    objects: int = 0
    error: str | None = None
    attempts: int = 0
    events: dict[str, int] = field(default_factory=dict)
    dropped: int = 0


@dataclass
class Job:
    """Everything a worker needs to process one input (plain data, so it pickles to a process or a Ray node)."""

    input: str  # as given, for the reports
    source: str  # what to open: an absolute path, or the URL
    out_dir: Path
    config: PipelineConfig
    prompts: ManualPrompts | None
    max_frames: int | None
    save_video: bool
    threads: int  # torch threads
    attempt: int = 1


def collect_inputs(items: Iterable[str]) -> list[str]:
    """Expand the command line's inputs into one entry per video or image sequence, in order, without repeats.

    - a video file (or any other path, which then fails on its own if it is not a video) or a URL: itself;
    - a folder holding images: one image sequence; a folder without images: each video file in it (not recursive);
    - a glob pattern (`"videos/*.mp4"`): each match, expanded by these same rules;
    - a `.txt` file: one path, folder, glob or URL per line (blank lines and `#` comments skipped; relative paths
      are relative to the file's folder), each expanded by these same rules.

    Raises:
        ValueError: a glob matches nothing, a folder holds neither images nor videos, or nothing is left.
    """
    found: list[str] = []
    for item in items:
        found.extend(_expand(str(item)))
    if not found:
        raise InputError("no inputs given")
    return list(dict.fromkeys(found))


def _expand(item: str) -> list[str]:
    if item.lower().startswith(URL_SCHEMES):
        return [item]
    if item.endswith(".txt") and os.path.isfile(item):
        base = Path(item).parent
        lines = (line.strip() for line in Path(item).read_text().splitlines())
        entries = [line for line in lines if line and not line.startswith("#")]
        return [path for entry in entries for path in _expand(_relative_to(base, entry))]
    if any(char in item for char in "*?["):
        matches = sorted(glob.glob(item), key=lambda p: _natural_key(Path(p)))
        if not matches:
            raise InputError(f"no files match {item}")
        return [path for match in matches for path in _expand(match)]
    item = os.path.normpath(item)
    if os.path.isdir(item):
        files = sorted((p for p in Path(item).iterdir() if p.is_file()), key=_natural_key)
        if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in files):
            return [item]
        videos = [str(p) for p in files if p.suffix.lower() in VIDEO_EXTENSIONS]
        if not videos:
            raise InputError(f"folder {item} holds neither images nor videos ({' '.join(VIDEO_EXTENSIONS)})")
        return videos
    return [item]


def _relative_to(base: Path, entry: str) -> str:
    if entry.lower().startswith(URL_SCHEMES) or os.path.isabs(entry):
        return entry
    return str(base / entry)


def output_names(inputs: list[str]) -> dict[str, str]:
    """A folder name per input: the file or folder name without suffix (a URL's host and path, made safe).

    Inputs that share a name get their parent folder's name in front ("a-video", "b-video"), then a short hash
    of the input if that is not enough, so names only depend on the inputs and stay the same on a re-run.
    """

    def base(spec: str) -> str:
        if spec.lower().startswith(URL_SCHEMES):
            return re.sub(r"[^\w.-]+", "_", spec.split("://", 1)[1]).strip("_") or "stream"
        path = Path(spec.rstrip("/\\"))
        return path.name if path.is_dir() else path.stem

    def with_parent(spec: str) -> str:
        parent = Path(spec.rstrip("/\\")).parent.name
        return f"{parent}-{base(spec)}" if parent else base(spec)

    names = {spec: base(spec) for spec in inputs}
    for rename in (with_parent, lambda spec: f"{names[spec]}-{hashlib.sha1(spec.encode()).hexdigest()[:8]}"):
        counts: dict[str, int] = {}
        for name in names.values():
            counts[name] = counts.get(name, 0) + 1
        names = {spec: rename(spec) if counts[name] > 1 else name for spec, name in names.items()}
    return names


def output_paths(output_dir: Path, names: Iterable[str], save_video: bool) -> list[NamedPath]:
    """Every path a batch writes: the summary, and each input's files, for `check_paths`."""
    from autotrack.sinks.mot import classes_path

    files = [MOT_FILE, classes_path(MOT_FILE).name, JSON_FILE, SUMMARY, *([VIDEO_FILE] if save_video else [])]
    named = [NamedPath("batch summary", output_dir / SUMMARY)]
    for name in names:
        named += [NamedPath("output", output_dir / name / file) for file in files]
    return named


def read_summary(out_dir: Path) -> InputResult | None:
    """The result stored in `out_dir/summary.json` by a completed run, or None when the input is not complete."""
    try:
        data = json.loads((out_dir / SUMMARY).read_text())
        known = {f.name for f in fields(InputResult)}
        result = InputResult(**{key: value for key, value in data.items() if key in known})
    except (OSError, ValueError, TypeError):
        return None
    return result if result.status == "ok" else None


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (temporary file, then os.replace): readers see the old file or the whole new one."""
    from autotrack.sinks.staging import write_whole

    write_whole(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2)))


def process_input(job: Job) -> InputResult:
    """Run the pipeline on one input and write its outputs; any error becomes a "failed" result, never a raise."""
    from autotrack.pipeline import new_session
    from autotrack.sinks import Outputs
    from autotrack.sources import open_source

    result = InputResult(job.input, job.out_dir.name, "failed", attempts=job.attempt)
    try:
        import torch

        torch.set_num_threads(job.threads)
        video = job.out_dir / VIDEO_FILE if job.save_video else None
        outputs = Outputs(video=video, mot=job.out_dir / MOT_FILE, json=job.out_dir / JSON_FILE)
        with open_source(job.source) as source:  # a bad input fails before the models load
            summary = new_session(_models(job.config), job.config, source, prompts=job.prompts,
                                  max_frames=job.max_frames, outputs=outputs).run()
    except Exception as error:  # one bad input must not stop the batch: report it instead
        result.error = one_line(error)
        return result
    result.status, result.frames, result.fps, result.objects = "ok", summary.frames, summary.fps, summary.objects
    result.events, result.dropped = dict(summary.events), summary.dropped
    write_json(job.out_dir / SUMMARY, asdict(result))  # last: marks the input complete
    return result


_loaded: tuple[PipelineConfig, Models] | None = None  # this worker process's models, kept for its next inputs


def _models(config: PipelineConfig) -> Models:
    """The models of `config`, loaded once per worker process (a pool process or a Ray worker runs many inputs)."""
    global _loaded
    from autotrack.pipeline import load_models

    if _loaded is None or _loaded[0] != config:
        _loaded = None  # the previous models go before the next load
        _loaded = (config, load_models(config))
    return _loaded[1]


def run(
    inputs: Iterable[str],
    pipeline: str | PipelineConfig,
    output_dir: str | Path,
    overrides: Mapping[str, object] | None = None,
    prompts: ManualPrompts | None = None,
    max_frames: int | None = None,
    save_video: bool = False,
    ray: str | None = None,
    workers: int | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    retries: int = 1,
    on_result: Callable[[InputResult], None] | None = None,
) -> list[InputResult]:
    """Run `pipeline` on every input (see `collect_inputs`) and write the results under `output_dir`.

    Args:
        inputs: video files, folders, globs, `.txt` lists and URLs.
        pipeline: a ready pipeline name, a YAML path or a PipelineConfig; `overrides` are typed values
            by dotted key on top, e.g. {"sam.imgsz": 512} (see `load_config`).
        prompts: user prompts applied to every input (frame numbers count from each input's start).
        ray: None runs a process pool of `workers` processes (default: one per CPU core) here; "local" starts a
            Ray runtime here (with `workers` CPUs when given), "auto" joins the running cluster, "ray://host:port"
            connects to a remote one. A Ray runtime already initialised in this process is used as it is.
        cpus_per_task, gpus_per_task: each Ray task's resource request (torch uses `cpus_per_task` threads).
        retries: how many more times a failed input is tried.
        on_result: called with each input's final result as it arrives (e.g. to drive a progress bar).

    Returns:
        One InputResult per input, in input order; also written to `output_dir/summary.json`.
    """
    from autotrack.pipeline import run_inputs

    inputs = [str(item) for item in inputs]
    specs = collect_inputs(inputs)
    config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline, overrides)
    if retries < 0:
        raise InputError(f"retries must be >= 0, got {retries}")
    output_dir = Path(output_dir).resolve()  # absolute: Ray workers run in other folders, maybe on other nodes
    names = output_names(specs)
    given = [NamedPath("input list", item) for item in inputs if item.endswith(".txt") and os.path.isfile(item)]
    given += [named for spec in specs for named in source_paths(spec)]
    given += run_inputs(config, pipeline if isinstance(pipeline, str) else None, prompts)
    check_paths(given, output_paths(output_dir, names.values(), save_video))  # before anything is written
    output_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, InputResult] = {}
    for spec in specs:
        done = read_summary(output_dir / names[spec])
        if done is not None:
            done.input, done.status = spec, "skipped"
            results[spec] = done
            if on_result is not None:
                on_result(done)
    todo = [spec for spec in specs if spec not in results]
    if todo:
        if ray:
            executor, threads = _ray_executor(ray, workers, cpus_per_task, gpus_per_task, retries), int(cpus_per_task)
        else:
            workers = min(workers or os.cpu_count() or 1, len(todo))
            executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            threads = (os.cpu_count() or 1) // workers  # share the cores instead of each torch using all of them
        jobs = [Job(spec, _absolute(spec), output_dir / names[spec], config, prompts, max_frames, save_video,
                    max(1, threads)) for spec in todo]
        with executor:
            for result in _run_with_retries(executor, jobs, retries):
                results[result.input] = result
                if on_result is not None:
                    on_result(result)
    ordered = [results[spec] for spec in specs]
    write_json(output_dir / SUMMARY, [asdict(result) for result in ordered])
    return ordered


def _absolute(spec: str) -> str:
    return spec if spec.lower().startswith(URL_SCHEMES) else os.path.abspath(spec)


def _run_with_retries(executor, jobs: list[Job], retries: int) -> Iterable[InputResult]:
    """Submit every job, resubmit failed ones up to `retries` times, and yield each final result as it comes."""
    attempts = {job.input: 0 for job in jobs}
    pending: dict[cf.Future, Job] = {}

    def submit(job: Job) -> None:
        attempts[job.input] += 1
        try:
            future = executor.submit(process_input, replace(job, attempt=attempts[job.input]))
        except Exception as error:  # e.g. a process pool broken by a worker that died: report it like a failure
            future = cf.Future()
            future.set_exception(error)
        pending[future] = job

    for job in jobs:
        submit(job)
    try:
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # the worker died (out of memory, node lost): Ray or the pool says so
                    result = InputResult(job.input, job.out_dir.name, "failed", error=f"worker failed: {error!r}",
                                         attempts=attempts[job.input])
                if result.status == "failed" and result.attempts <= retries:
                    submit(job)
                    continue
                if result.status == "failed":
                    result.error = f"failed after {result.attempts} attempt(s): {result.error}"
                yield result
    finally:
        for future in pending:
            future.cancel()


class _RayExecutor:
    """Submits each call as a Ray task with a resource request; `submit` returns a concurrent.futures.Future."""

    def __init__(self, ray_module, owns_runtime: bool, options: dict) -> None:
        self._ray = ray_module
        self._owns_runtime = owns_runtime
        self._options = options
        self._tasks: dict[Callable, object] = {}

    def submit(self, fn: Callable, *args) -> cf.Future:
        if fn not in self._tasks:
            self._tasks[fn] = self._ray.remote(**self._options)(fn)
        return self._tasks[fn].remote(*args).future()

    def __enter__(self) -> _RayExecutor:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._owns_runtime:
            self._ray.shutdown()


def _ray_executor(address: str, workers: int | None, cpus: float, gpus: float, retries: int) -> _RayExecutor:
    """Connect to Ray (`local`, `auto` or `ray://host:port`) unless this process already is connected."""
    from autotrack.cluster import check_fits, connect

    owns_runtime = connect(address, workers)
    import ray

    try:
        check_fits("each task", cpus, gpus)  # a task no node can hold would wait forever
    except AutotrackError:
        if owns_runtime:
            ray.shutdown()
        raise
    # max_retries re-runs a task whose worker or node died; failed inputs are retried by _run_with_retries.
    return _RayExecutor(ray, owns_runtime, {"num_cpus": cpus, "num_gpus": gpus, "max_retries": retries})
