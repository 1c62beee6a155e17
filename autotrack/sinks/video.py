"""Annotated video file sink, and the video writer it opens (H.264 when OpenCV can encode it, else MPEG-4).

pip's OpenCV usually cannot encode H.264, the codec browsers play; the sink then writes MPEG-4 and, on close,
re-encodes the file to H.264 with the system's ffmpeg when there is one (the swap is atomic, so the file is always
a complete, playable video).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from autotrack.errors import InputError
from autotrack.sinks.annotate import FrameAnnotator
from autotrack.sinks.base import Sink
from autotrack.sinks.outputs import OutputError
from autotrack.types import FrameResult

# 'avc1' (H.264) plays in browsers but pip's OpenCV usually cannot encode it; 'mp4v' always works but browsers
# do not play it.
CODECS = ("avc1", "mp4v")
H264 = ("avc1", "h264")  # how OpenCV reports an H.264 stream


def open_video_writer(path: str | Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """Open an FFmpeg video writer for `size` = (width, height) frames, trying the codecs in `CODECS` in order.

    Creates the parent folder. Raises RuntimeError when no codec opens (unwritable folder, unknown suffix).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log_level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # a failed 'avc1' try is expected, not news
    try:
        for codec in CODECS:
            writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*codec), fps, size)
            if writer.isOpened():
                return writer
    finally:
        cv2.utils.logging.setLogLevel(log_level)
    raise OutputError(
        f"cannot open a video writer for {path} (tried codecs {', '.join(CODECS)}): "
        "use a .mp4 (or .mkv/.avi) path in a writable folder"
    )


def check_frame(frame: np.ndarray) -> tuple[int, int]:
    """Return (width, height) of a BGR uint8 frame; raise ValueError for anything a video writer would drop."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected a BGR uint8 frame of shape (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame.shape[1], frame.shape[0]


class VideoSink(Sink):
    """Writes every frame, annotated with masks, boxes, `#id class` labels and traces, to a video file.

    The writer opens on the first frame (its size sets the video size); frames without objects are written too.
    """

    def __init__(self, path: str | Path, fps: float, trace_length: int = 30) -> None:
        if fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self.annotate = FrameAnnotator(trace_length=trace_length)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, result: FrameResult) -> None:
        size = check_frame(result.frame)
        if self._writer is None:
            self._writer = open_video_writer(self.path, self.fps, size)
            self._size = size
        elif size != self._size:
            raise InputError(f"frame {result.frame_index} is {size[0]}x{size[1]}, the video is "
                             f"{self._size[0]}x{self._size[1]}")
        self._writer.write(self.annotate(result.frame, result.detections))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if fourcc(self.path) not in H264:
                to_h264(self.path)


def fourcc(path: Path) -> str:
    """The four-character code of a video file's codec, e.g. 'avc1' for H.264, 'mp4v' for MPEG-4."""
    code = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FOURCC))
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))


def to_h264(path: Path) -> bool:
    """Re-encode a video to H.264 in place with the system ffmpeg; False (file untouched) without ffmpeg or on
    failure."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return False
    tmp = path.with_name(f".{path.stem}.h264{path.suffix}")
    command = [ffmpeg, "-y", "-loglevel", "error", "-i", str(path), "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", str(tmp)]
    if subprocess.run(command, capture_output=True).returncode != 0:
        tmp.unlink(missing_ok=True)
        return False
    os.replace(tmp, path)
    return True
