"""One line of advice when a run is set up to be slow on a CPU: the ready pipelines that ran several times faster.

The default pipelines run SAM2.1-tiny at imgsz 1024, the size SAM2 was trained at and the one that gives the best
masks; on a GPU that is fast. On a CPU it is a few seconds a frame, and EdgeTAM (the `edge-cpu` pipeline) gives the
same tracking at the same input size several times faster. The defaults stay as they are, on every device (a run's
masks should not depend on where it runs, and EdgeTAM needs the `edgetam` extra), and the run says so once.

The advice speaks from measurements only: a run gets the note when its model at its input size was measured below
`SLOW_FPS` and a ready pipeline's model and input size was measured at least `FASTER` times faster. A model too
slow on a CPU to be benchmarked there (`GPU_MODELS`: SAM 3) gets a note from its image encoder's counted cost
instead, naming the fastest measured ready pipeline. The figures are
the repository's `autotrack bench` results (benchmarks/results/, runs on a CPU, one object, automatic precision);
the ratios carry over to other CPUs better than the frame rates do. That folder is not part of an installed
package, so the one figure per result file the advice needs ships beside this module (`cpu_speed.json`, written by
`python benchmarks/update_figures.py`; tests/test_advice.py fails when it differs from the result files). It is read
here, not through `autotrack.bench`, whose runners would load the pipeline and torch on every command's start.
"""

from __future__ import annotations

import json
from pathlib import Path

from autotrack.config import PipelineConfig, builtin_pipelines, load_config

FIGURES = Path(__file__).with_name("cpu_speed.json")
SLOW_FPS = 1.0  # a run below this many frames a second is worth a note
FASTER = 2.0  # a ready pipeline is named when it ran at least this many times faster
# models for a GPU, not benchmarked on a CPU: why, from the FLOPs of their image encoders (counted with transformers)
GPU_MODELS = {"sam3": "its ViT-L image encoder costs about 5,400 GFLOP a frame at 1008 px and 1,570 at 504 px, "
                      "140 times EdgeTAM's at 1024 px"}


def cpu_fps() -> dict[tuple[str, int, int], float]:
    """Measured frames per second on a CPU by (model, imgsz, objects)."""
    return {(run["model"], run["imgsz"], run["objects"]): run["fps"] for run in json.loads(FIGURES.read_text())["runs"]}


def faster_pipeline_note(config: PipelineConfig, device_type: str) -> str | None:
    """The note for a run of `config` on a device of `device_type` ("cpu", "cuda", "mps"), or None."""
    if device_type != "cpu":
        return None
    figures = cpu_fps()
    if config.sam.model in GPU_MODELS:
        return _gpu_model_note(config.sam.model, figures)
    fps = figures.get((config.sam.model, config.sam.imgsz, 1))
    if fps is None or fps >= SLOW_FPS:
        return None
    faster = {}
    for name in builtin_pipelines():
        sam = load_config(name).sam
        speedup = figures.get((sam.model, sam.imgsz, 1), 0.0) / fps
        if speedup >= FASTER:
            faster[name] = (sam, speedup)
    if not faster:
        return None
    options = ", ".join(f"-p {name} ({sam.model} at imgsz {sam.imgsz}) about {speedup:.0f}x faster"
                        for name, (sam, speedup) in faster.items())
    first = next(iter(faster.values()))[0]
    return (f"note: {config.sam.model} at imgsz {config.sam.imgsz} is slow on a CPU (about {fps:.2f} frames/s "
            f"in autotrack's CPU benchmark); {options}; `autotrack bench --sam {first.model} --imgsz {first.imgsz}` "
            "measures this machine")


def _gpu_model_note(model: str, figures: dict[tuple[str, int, int], float]) -> str:
    """The note for a GPU model on a CPU: what it costs, and the ready pipelines measured at `SLOW_FPS` or more
    there, fastest first."""
    runs = [(figures.get((sam.model, sam.imgsz, 1), 0.0), name, sam)
            for name, sam in ((name, load_config(name).sam) for name in builtin_pipelines())]
    options = ", ".join(f"-p {name} ({sam.model} at imgsz {sam.imgsz}) about {fps:.1f} frames/s"
                        for fps, name, sam in sorted(runs, key=lambda run: -run[0]) if fps >= SLOW_FPS)
    return (f"note: {model} is a model for a GPU ({GPU_MODELS[model]}): on a CPU a frame takes tens of seconds; "
            f"for a CPU prefer {options} in autotrack's CPU benchmark")


def precision_note(precision: str | None, device_type: str) -> str | None:
    """The note for a run computing in `precision` on a device of `device_type`: fp16 on a CPU, which has no fp16
    arithmetic of its own and computes it slower than fp32 (a quarter of fp32's speed in one user's run); else
    None."""
    if precision != "fp16" or device_type != "cpu":
        return None
    import torch

    from autotrack.engine.precision import resolve_precision

    auto = resolve_precision("auto", torch.device("cpu"))
    return (f"note: fp16 runs slower than fp32 on a CPU (it has no fp16 arithmetic); --precision auto picks {auto} "
            "on this one")
