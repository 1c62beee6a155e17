"""Live inputs: webcams and network streams (RTSP, RTMP, HTTP), read by a background thread that reconnects.

The reader thread owns the OpenCV capture and hands frames to the consumer under one of two policies:

- `latest`: the consumer always gets the newest frame; a frame it did not take in time is replaced by the next
  one and counted in `stats.dropped`. For real-time work, where being late is worse than missing frames.
- `all`: every frame goes through a queue of `buffer_size` frames; when it is full the reader waits (and the
  stream's own buffers fill), so memory stays bounded and no frame is skipped while the consumer keeps up on
  average.

When the stream fails (an error, the end, or no frame within `read_timeout`) the reader reopens it, waiting
`backoff`, then twice as long each time up to `max_backoff`, for at most `reconnect` attempts (None: forever).
Frame indices keep increasing across the gap, so trackers downstream keep their state. When every attempt
fails, iteration raises `SourceError` once the frames already read have been delivered.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from autotrack.sources.base import Frame, RateMeter, Source, SourceError

logger = logging.getLogger(__name__)

FRAME_POLICIES = ("latest", "all")
URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://")

_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_ENV_LOCK = threading.Lock()


def redact(url: str) -> str:
    """The URL without its user and password, for messages and logs."""
    return re.sub(r"//[^/@]*@", "//***@", url)


@contextmanager
def _ffmpeg_options(options: str | None):
    """Pass options to OpenCV's FFmpeg backend for one open call.

    OpenCV reads them from an environment variable when a capture opens; a value the user set is left alone.
    """
    if options is None or _FFMPEG_OPTIONS_ENV in os.environ:
        yield
        return
    with _ENV_LOCK:
        os.environ[_FFMPEG_OPTIONS_ENV] = options
        try:
            yield
        finally:
            del os.environ[_FFMPEG_OPTIONS_ENV]


class LiveSource(Source):
    """A webcam (by index) or a stream URL, read in a background thread; see the module docstring.

    Args:
        spec: webcam index, or an rtsp://, rtmp:// or http(s):// URL.
        policy: "latest" (newest frame, drop the rest) or "all" (every frame, bounded queue).
        buffer_size: queue length under "all".
        open_timeout: seconds to wait for a stream to open (URLs only; OpenCV's FFmpeg backend).
        read_timeout: seconds without a frame after which a stream counts as lost (URLs only).
        reconnect: reopen attempts after the stream is lost; None retries forever, 0 never.
        backoff: seconds before the first reopen attempt; each further attempt waits twice as long...
        max_backoff: ...up to this many seconds.
        rtsp_transport: "tcp" (default: no packet loss, passes firewalls) or "udp" for rtsp:// URLs; None leaves
            FFmpeg's default.

    Each frame's `timestamp` is the time it was read, in seconds since the source opened.
    """

    def __init__(
        self,
        spec: int | str,
        policy: str = "latest",
        buffer_size: int = 8,
        open_timeout: float = 10.0,
        read_timeout: float = 5.0,
        reconnect: int | None = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        rtsp_transport: str | None = "tcp",
    ):
        super().__init__()
        if policy not in FRAME_POLICIES:
            raise SourceError(f"unknown policy {policy!r}; choose one of {', '.join(FRAME_POLICIES)}")
        if buffer_size < 1:
            raise SourceError(f"buffer_size must be at least 1, got {buffer_size}")
        self.spec = spec
        self.name = f"webcam {spec}" if isinstance(spec, int) else f"stream {redact(spec)}"
        self.policy = policy
        self.buffer_size = buffer_size if policy == "all" else 1
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.reconnect = reconnect
        self.backoff = backoff
        self.max_backoff = max_backoff
        is_rtsp = isinstance(spec, str) and spec.lower().startswith(("rtsp://", "rtsps://"))
        self._options = f"rtsp_transport;{rtsp_transport}" if is_rtsp and rtsp_transport else None

        capture = self._open()
        if capture is None:
            if isinstance(spec, int):
                raise SourceError(f"cannot open webcam {spec}: no camera at that index, or it is in use")
            raise SourceError(
                f"cannot open {self.name} within {open_timeout:g} s: wrong address or path, server down or "
                "refusing connections, or a format OpenCV's FFmpeg backend cannot read"
            )
        self._describe(capture)

        self._buffer: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False  # the reader has exited
        self._error: str | None = None  # why it exited, when it gave up
        self._next_index = 0
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._read_loop, args=(capture,), name=f"autotrack {self.name}")
        self._thread.daemon = True
        self._thread.start()

    def _open(self) -> cv2.VideoCapture | None:
        """Open the input once; None when it cannot be opened."""
        if isinstance(self.spec, int):
            capture = cv2.VideoCapture(self.spec)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(self.open_timeout * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(self.read_timeout * 1000),
            ]
            with _ffmpeg_options(self._options):
                capture = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG, params)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _describe(self, capture: cv2.VideoCapture) -> None:
        """Take fps and size from a freshly opened capture (a stream may change them when it comes back)."""
        fps = capture.get(cv2.CAP_PROP_FPS)
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = fps if 0 < fps <= 240 else None  # RTP streams may report their 90 kHz clock
        self.size = (width, height) if width > 0 and height > 0 else self.size

    # --- reader thread ---

    def _read_loop(self, capture: cv2.VideoCapture) -> None:
        meter = RateMeter()
        try:
            while capture is not None and not self._stop.is_set():
                ok, image = capture.read()
                if ok:
                    self.stats.input_fps = meter.tick()
                    self._put(Frame(self._next_index, time.monotonic() - self._start, image))
                    self._next_index += 1
                    continue
                capture.release()
                logger.warning("%s lost after frame %d; reconnecting", self.name, self._next_index - 1)
                capture = self._reopen()
        except SourceError as error:
            self._error = str(error)
        except Exception as error:  # tell the consumer, rather than end the stream without a word
            self._error = f"reading {self.name} failed: {error!r}"
        finally:
            if capture is not None:
                capture.release()  # releasing twice is harmless
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _reopen(self) -> cv2.VideoCapture | None:
        """Reopen with capped exponential backoff; None when closed meanwhile, SourceError when out of attempts."""
        attempt, lost_at = 0, time.monotonic()
        while self.reconnect is None or attempt < self.reconnect:
            delay = min(self.backoff * 2**attempt, self.max_backoff)
            attempt += 1
            if self._stop.wait(delay):
                return None
            capture = self._open()
            if capture is not None:
                self._describe(capture)
                self.stats.outage = time.monotonic() - lost_at
                self.stats.reconnects += 1
                logger.warning("%s reconnected after %.1f s (%d attempt(s))", self.name, self.stats.outage, attempt)
                return capture
            logger.warning("%s: reconnect attempt %d failed", self.name, attempt)
        raise SourceError(
            f"lost {self.name} after frame {self._next_index - 1} and could not reconnect "
            f"({attempt} attempt(s) over {time.monotonic() - lost_at:.0f} s)"
        )

    def _put(self, frame: Frame) -> None:
        with self._cond:
            if self.policy == "latest" and self._buffer:
                self._buffer.clear()
                self.stats.dropped += 1
            while len(self._buffer) >= self.buffer_size and not self._stop.is_set():
                self._cond.wait()  # back-pressure under "all"; woken by the consumer or close()
            self._buffer.append(frame)
            self.stats.queued = len(self._buffer)
            self._cond.notify_all()

    # --- consumer side ---

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while not self._buffer and not self._done and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                if not self._buffer:
                    if self._error is not None:
                        raise SourceError(self._error)
                    return
                frame = self._buffer.popleft()
                self.stats.queued = len(self._buffer)
                self._cond.notify_all()
            yield frame

    def close(self) -> None:
        """Stop the reader thread and release the input. Waits at most for one blocked read or open to time out."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=self.open_timeout + self.read_timeout + 1.0)
