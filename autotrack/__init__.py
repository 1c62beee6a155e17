"""autotrack: find, segment and follow every object in a video or camera feed with stable IDs.

The heavy parts (torch, ultralytics) load on first use of the name that needs them, so `import autotrack`
and `autotrack --help` stay fast.
"""

from importlib import import_module

from autotrack.quiet import quiet_video_io

quiet_video_io()  # before any module imports cv2, which reads its log level once, on import

from autotrack.errors import AutotrackError  # noqa: E402
from autotrack.types import (  # noqa: E402
    Event,
    EventKind,
    FrameResult,
    ObjectState,
    Prompt,
    Status,
    Tracker,
)

__version__ = "0.1.0"

# public name -> module that defines it, imported on first access (PEP 562)
_LAZY = {
    "Pipeline": "autotrack.pipeline",
    "load_pipeline": "autotrack.pipeline",
    "PointTracker": "autotrack.points",
    "SAM2Tracker": "autotrack.models",
    "load_engine": "autotrack.models",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'autotrack' has no attribute {name!r}")


__all__ = ["AutotrackError", "Event", "EventKind", "FrameResult", "ObjectState", "Prompt", "Status", "Tracker",
           *_LAZY]
