"""Outputs for FrameResults: annotated video, MOTChallenge txt, COCO-RLE JSON, DAVIS PNGs, a training set (YOLO or
COCO), a live window and a user callback.

Every sink has `write(result)` and `close()` and works as a context manager.
"""

from autotrack.sinks.annotate import FrameAnnotator
from autotrack.sinks.base import Sink
from autotrack.sinks.callback import CallbackSink
from autotrack.sinks.coco import CocoJsonSink
from autotrack.sinks.dataset import DatasetSink
from autotrack.sinks.davis import DavisPngSink
from autotrack.sinks.mot import MotSink
from autotrack.sinks.outputs import OutputError, Outputs
from autotrack.sinks.video import VideoSink
from autotrack.sinks.window import DisplayError, WindowSink

__all__ = [
    "CallbackSink",
    "CocoJsonSink",
    "DatasetSink",
    "DavisPngSink",
    "DisplayError",
    "FrameAnnotator",
    "MotSink",
    "OutputError",
    "Outputs",
    "Sink",
    "VideoSink",
    "WindowSink",
]
