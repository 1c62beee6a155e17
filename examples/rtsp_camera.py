"""Follow every object in an RTSP camera (or webcam index) with YOLO + SAM2, writing MOT rows as they come.

    python examples/rtsp_camera.py rtsp://user:password@192.168.1.10/stream
    python examples/rtsp_camera.py 0 detector.weights=random sam.weights=random sam.imgsz=64   # smoke run

Extra arguments are config overrides (as `--set` takes them). The tracker always gets the camera's newest frame
(frames it has no time for are dropped and counted), the stream is reopened whenever it drops, and Ctrl-C stops
the run with camera.txt complete.
"""

import sys

from autotrack.config import parse_set
from autotrack.pipeline import load_pipeline
from autotrack.sinks import MotSink

camera = int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1]
pipeline = load_pipeline(
    "yolo-sam2",
    camera,
    sinks=[MotSink("camera.txt")],
    overrides=dict(parse_set(item) for item in sys.argv[2:]),
    source_options={"policy": "latest", "reconnect": None},  # None: reconnect forever
)
try:
    for result in pipeline.stream():  # stream() closes the sink and the camera however it ends
        s = pipeline.summary
        print(f"\rframe {result.frame_index}: {len(result.detections)} objects, {s.fps:.1f} fps processed, "
              f"{s.input_fps or 0:.1f} fps in, {s.dropped} dropped, {s.reconnects} reconnects", end="", flush=True)
except KeyboardInterrupt:
    print(f"\nstopped after {pipeline.summary.frames} frames; camera.txt is complete")
