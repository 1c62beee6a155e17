"""Annotated video file sink, and the video writers it uses.

With the system's ffmpeg on PATH, the sink pipes raw frames to an ffmpeg process that encodes H.264 (the codec
browsers play) into a fragmented MP4: a header first, then self-contained fragments of about a second. ffmpeg runs
in its own session and stops only when its input ends, so even when this process is killed (SIGKILL included) it
reads the frames left in the pipe, sees the end and finishes the file, which then plays up to the last frame written.
Without ffmpeg, OpenCV writes the file (H.264 when it can, else MPEG-4, which browsers do not play), and a killed run
leaves an unplayable MP4.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from autotrack.errors import InputError
from autotrack.sinks.annotate import FrameAnnotator
from autotrack.sinks.base import OutputError, Sink
from autotrack.sinks.staging import commit, staging_path
from autotrack.types import FrameResult

# 'avc1' (H.264) plays in browsers but pip's OpenCV usually cannot encode it; 'mp4v' always works but browsers
# do not play it.
CODECS = ("avc1", "mp4v")
SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi")  # containers ffmpeg writes H.264 into
CLOSE_TIMEOUT_S = 60.0  # how long `close` waits for ffmpeg to write the last frames


def open_video_writer(path: str | Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """Open an OpenCV (FFmpeg backend) video writer for `size` = (width, height) frames, trying the codecs in
    `CODECS` in order.

    Creates the parent folder. Raises OutputError when no codec opens (unwritable folder, unknown suffix).
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


class FfmpegWriter:
    """Pipes BGR frames to an ffmpeg process that writes H.264 (yuv420p, odd sizes padded to even, a keyframe about
    every second, no frames held back by the encoder) into a fragmented MP4 (or the container the suffix names).

    ffmpeg runs in its own session, so a Ctrl-C or a signal sent to this process does not cut the file short; it
    ends when its input does: at `release`, which waits for it, or when this process dies.
    Raises OutputError for a suffix it cannot write, an unwritable path, or when ffmpeg fails.
    """

    def __init__(self, ffmpeg: str, path: Path, fps: float, size: tuple[int, int]) -> None:
        if path.suffix.lower() not in SUFFIXES:
            raise OutputError(f"cannot open a video writer for {path}: use a {', '.join(SUFFIXES)} path")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.open("wb").close()  # fails now, with the reason, rather than inside ffmpeg after the first frame
        except OSError as error:
            raise OutputError(f"cannot write video {path}: {error.strerror or error}") from None
        self.path = path
        command = [
            ffmpeg, "-y", "-loglevel", "error", "-nostats",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-video_size", f"{size[0]}x{size[1]}", "-framerate", str(fps),
            "-i", "-",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-preset", "veryfast", "-tune", "zerolatency", "-g", str(max(1, round(fps))),
            "-movflags", "frag_keyframe+empty_moov+default_base_moof",  # used by .mp4/.mov, ignored by the others
            str(path),
        ]
        self._log = tempfile.TemporaryFile()  # ffmpeg's stderr, read when it fails
        try:
            self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=self._log, start_new_session=True)
        except OSError as error:
            self._log.close()
            raise OutputError(f"cannot start ffmpeg ({ffmpeg}) to write {path}: {error.strerror or error}") from None

    def write(self, frame: np.ndarray) -> None:
        try:
            self._process.stdin.write(frame.tobytes())
            self._process.stdin.flush()  # in the pipe now: ffmpeg gets it even if this process dies next
        except BrokenPipeError:
            raise OutputError(f"ffmpeg stopped writing {self.path}: {self._stop()}") from None

    def release(self) -> None:
        """Close ffmpeg's input and wait for it to finish the file; safe to call twice."""
        if not self._log.closed:
            error = self._stop()
            if error:
                raise OutputError(f"ffmpeg failed to write {self.path}: {error}")

    def _stop(self) -> str:
        """End ffmpeg's input and wait for it (killing it after CLOSE_TIMEOUT_S); '' when it finished the file,
        else what went wrong (its last message line)."""
        with contextlib.suppress(BrokenPipeError):  # ffmpeg already stopped: its exit code says why
            self._process.stdin.close()
        try:
            code = self._process.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            self._log.close()
            return f"it did not finish within {CLOSE_TIMEOUT_S:g} s; the video may miss its last frames"
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        self._log.close()
        if code == 0:
            return ""
        return lines[-1] if lines else f"exit code {code}"


def check_frame(frame: np.ndarray) -> tuple[int, int]:
    """Return (width, height) of a BGR uint8 frame; raise ValueError for anything a video writer would drop."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected a BGR uint8 frame of shape (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame.shape[1], frame.shape[0]


class VideoSink(Sink):
    """Writes every frame, annotated with masks, boxes, `#id class` labels and traces, to a video file.

    The writer opens on the first frame (its size sets the video size); frames without objects are written too.
    With ffmpeg on PATH the file is H.264 in a fragmented MP4 that survives a killed run (see the module
    docstring); without it OpenCV writes the file and a killed run leaves it unplayable. A file already at `path` is
    replaced when the sink closes (`autotrack.sinks.staging`).
    """

    def __init__(self, path: str | Path, fps: float, trace_length: int = 30) -> None:
        if fps <= 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = fps
        self.annotate = FrameAnnotator(trace_length=trace_length)
        self._writer: FfmpegWriter | cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._staging = self.path  # where the writer writes (`staging_path`), chosen when it opens

    def write(self, result: FrameResult) -> None:
        size = check_frame(result.frame)
        if self._writer is None:
            ffmpeg = shutil.which("ffmpeg")
            self._staging = staging_path(self.path)
            if ffmpeg:
                self._writer = FfmpegWriter(ffmpeg, self._staging, self.fps, size)
            else:
                self._writer = open_video_writer(self._staging, self.fps, size)
            self._size = size
        elif size != self._size:
            raise InputError(f"frame {result.frame_index} is {size[0]}x{size[1]}, the video is "
                             f"{self._size[0]}x{self._size[1]}")
        self._writer.write(self.annotate(result.frame, result.detections))

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.release()
            commit(self._staging, self.path)
