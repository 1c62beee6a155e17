"""One line of advice when a run is set up to be slow on a CPU: the ready pipelines that ran several times faster.

The default pipelines run SAM2.1-tiny at imgsz 1024, the size SAM2 was trained at and the one that gives the best
masks; on a GPU that is fast. On a CPU it is a few seconds a frame, and EdgeTAM (the `edge-cpu` pipeline) gives the
same tracking at the same input size several times faster. The defaults stay as they are, on every device (a run's
masks should not depend on where it runs, and EdgeTAM needs the `edgetam` extra), and the run says so once.

The advice speaks from measurements only: a run gets the note when its model at its input size was measured below
`SLOW_FPS` and a ready pipeline's model and input size was measured at least `FASTER` times faster. The figures are
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


def cpu_fps() -> dict[tuple[str, int, int], float]:
    """Measured frames per second on a CPU by (model, imgsz, objects)."""
    return {(run["model"], run["imgsz"], run["objects"]): run["fps"] for run in json.loads(FIGURES.read_text())["runs"]}


def faster_pipeline_note(config: PipelineConfig, device_type: str) -> str | None:
    """The note for a run of `config` on a device of `device_type` ("cpu", "cuda", "mps"), or None."""
    if device_type != "cpu":
        return None
    figures = cpu_fps()
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
