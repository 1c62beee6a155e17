"""Helpers for tests against the RTSP test server (tests/rtsp_server.py): start and stop it, read its frames back.

The `server` fixture in conftest.py gives each test a running server.
"""

import functools
import select
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_NEEDS = "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0')"
FPS = 25
# generous timeouts for LiveSource: the tests must hold on a loaded 2-core machine
OPTIONS = dict(open_timeout=10.0, read_timeout=5.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def counter_of(image: np.ndarray) -> int:
    """Read back the counter the server drew: 16 stripes, white = 1, most significant bit on the left."""
    row = image[image.shape[0] // 2, :, 1].astype(float)
    stripe = image.shape[1] // 16
    bits = [row[b * stripe + 2 : (b + 1) * stripe - 2].mean() > 128 for b in range(16)]
    return sum(1 << (15 - b) for b, bit in enumerate(bits) if bit)


@functools.cache
def server_python() -> str:
    """The interpreter to run rtsp_server.py with: the first of Debian's /usr/bin/python3, this one and the python3 on
    PATH that has GStreamer's RTSP server bindings (Debian's python3-gi, which a virtual environment does not see)."""
    candidates = dict.fromkeys(c for c in (SYSTEM_PYTHON, sys.executable, shutil.which("python3")) if c)
    for python in candidates:
        try:
            if subprocess.run([python, "-c", SERVER_NEEDS], capture_output=True, timeout=60).returncode == 0:
                return python
        except OSError:  # not there
            continue
    return SYSTEM_PYTHON  # start() says what to install


class RtspServer:
    """tests/rtsp_server.py in a subprocess, on a fixed port so that it can be stopped and started again."""

    def __init__(self):
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/test"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [server_python(), str(SERVER_SCRIPT), "--port", str(self.port), "--fps", str(FPS)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.stop()
            pytest.fail(
                f"the test RTSP server did not start ({self.process.stderr.read().strip()[-500:]}); it needs "
                "Debian's GStreamer RTSP server for /usr/bin/python3: apt-get install $(cat .ci/apt-packages.txt)"
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
