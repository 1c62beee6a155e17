"""One line of advice when a run is set up to be slow on its device: SAM2 at a large input size on a CPU.

The default pipelines run SAM2.1-tiny at imgsz 1024, the size SAM2 was trained at and the one that gives the best
masks; on a GPU that is fast. On a CPU it is a few seconds a frame, and EdgeTAM (the `edge-cpu` pipeline) gives the
same tracking at the same input size several times faster. The defaults stay as they are, on every device (a run's
masks should not depend on where it runs, and EdgeTAM needs the `edgetam` extra), and the run says so once.

The figures are `autotrack bench` runs on a 2-core CPU (AVX512-BF16, bf16, one object, random weights): the ratios
carry over to other CPUs better than the frame rates do.
"""

from __future__ import annotations

from autotrack.config import PipelineConfig
from autotrack.weights import get_spec

CPU_FPS = {"sam2.1_t@1024": 0.33, "sam2.1_t@512": 2.03, "edgetam@1024": 1.36}  # see the module docstring
SLOW_IMGSZ = 1024


def faster_pipeline_note(config: PipelineConfig, device_type: str) -> str | None:
    """The note for a run of `config` on a device of `device_type` ("cpu", "cuda", "mps"), or None."""
    if device_type != "cpu" or get_spec(config.sam.model).family != "sam2" or config.sam.imgsz < SLOW_IMGSZ:
        return None
    slow = CPU_FPS["sam2.1_t@1024"]
    edge, small = CPU_FPS["edgetam@1024"], CPU_FPS["sam2.1_t@512"]
    return (f"note: SAM2 at imgsz {config.sam.imgsz} is slow on a CPU (SAM2.1-tiny at 1024: about {slow} frames/s on 2 "
            f"cores); -p edge-cpu (EdgeTAM, same imgsz) runs about {edge / slow:.0f}x faster, "
            f"-p fast-cpu (SAM2.1-tiny at imgsz 512) about {small / slow:.0f}x; "
            "`autotrack bench --sam edgetam` measures this machine")
