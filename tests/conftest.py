"""Shared fixtures: paths to the real test data, a machine without network or weights, a running RTSP test
server, torch on one thread."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
from live_stream import RtspServer

from autotrack import weights as registry

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


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """No weights anywhere and no route to the internet; the working folder has no weights/ either."""

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(registry, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("AUTOTRACK_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def one_torch_thread():
    """SAM2 on one thread: two threads on a shared 2-core machine are many times slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
