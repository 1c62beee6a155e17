"""Shared fixtures: paths to the real test data, and a running RTSP test server."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_stream import RtspServer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real videos and ground truth shared with the project (never copied into it)."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    return DATA


@pytest.fixture
def server():
    """tests/rtsp_server.py serving rtsp://127.0.0.1:PORT/test; a test may stop and start it again."""
    server = RtspServer()
    server.start()
    yield server
    server.stop()
