"""Live sources against a real RTSP server on 127.0.0.1 (tests/rtsp_server.py, GStreamer's RTSP server).

The server runs under Debian's /usr/bin/python3, which has the GStreamer bindings; `.ci/apt-packages.txt` lists
the packages. Its frames spell a counter in 16 black/white stripes, so the tests can check frame content.
"""

import socket
import threading
import time

import numpy as np
import pytest
from live_stream import OPTIONS, counter_of, free_port

from autotrack.sources import LiveSource, SourceError, open_source

pytestmark = pytest.mark.timeout(60)


def test_reads_frames_from_an_rtsp_stream(server):
    with open_source(server.url, policy="all", **OPTIONS) as source:
        assert isinstance(source, LiveSource)
        assert source.size == (320, 240) and source.total is None
        frames = []
        for frame in source:
            frames.append(frame)
            if len(frames) == 30:
                break
        assert source.stats.input_fps > 0
    assert [f.index for f in frames] == list(range(30))
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    counters = [counter_of(f.image) for f in frames]
    assert np.all(np.diff(counters) == 1), counters
    assert all(b.timestamp >= a.timestamp for a, b in zip(frames, frames[1:]))


def test_reconnects_when_the_server_comes_back_and_indices_keep_increasing(server):
    restart = threading.Timer(3.0, server.start)  # down for a few seconds, then back on the same port
    frames, after_reconnect = [], 0
    try:
        with open_source(server.url, policy="all", reconnect=30, backoff=0.25, max_backoff=1.0, **OPTIONS) as source:
            for frame in source:
                frames.append(frame)
                if len(frames) == 20:
                    server.stop()
                    restart.start()
                after_reconnect += source.stats.reconnects > 0
                if after_reconnect == 20:
                    break
            assert source.stats.reconnects == 1
    finally:
        restart.cancel()
        if restart.is_alive():
            restart.join()
    assert [f.index for f in frames] == list(range(len(frames)))  # the numbering goes on across the gap
    # the restarted server counts from 0 again: one drop in the counter, consecutive counts on either side
    counters = np.array([counter_of(f.image) for f in frames])
    steps = np.diff(counters)
    assert np.sum(steps != 1) == 1 and steps[steps != 1][0] < 0, counters


def test_iteration_ends_with_source_error_when_the_server_never_returns(server):
    received = []
    with open_source(server.url, policy="all", reconnect=3, backoff=0.2, max_backoff=0.5, **OPTIONS) as source:
        with pytest.raises(SourceError, match=r"lost stream rtsp://127.0.0.1:\d+/test after frame") as error:
            for frame in source:
                received.append(frame.index)
                if len(received) == 10:
                    server.stop()
        assert source.stats.reconnects == 0
    # the frames read before the loss were all delivered first, then the error names the last one
    assert received == list(range(len(received))) and len(received) >= 10
    assert f"after frame {received[-1]} and could not reconnect (3 attempt(s)" in str(error.value)


def test_latest_policy_gives_a_slow_consumer_recent_frames_and_counts_drops(server):
    with open_source(server.url, policy="latest", **OPTIONS) as source:
        received = []
        for frame in source:
            received.append(frame)
            time.sleep(0.2)  # about 5 stream frames per consumed frame
            if len(received) == 12:
                break
        dropped = source.stats.dropped
        assert source.stats.queued <= 1
    indices = [f.index for f in received]
    gaps = np.diff(indices)
    assert np.all(gaps >= 1) and gaps.mean() > 2, indices  # it skips ahead instead of falling behind
    assert dropped >= int(np.sum(gaps - 1)) > 0  # every frame skipped over was counted as dropped
    # each index still names the frame the server sent at that position (one session, no gaps in the reading)
    offsets = {counter_of(f.image) - f.index for f in received}
    assert len(offsets) == 1, offsets


def test_all_policy_delivers_every_frame_and_keeps_the_queue_bounded(server):
    with open_source(server.url, policy="all", buffer_size=4, **OPTIONS) as source:
        counters, queued = [], []
        for frame in source:
            counters.append(counter_of(frame.image))
            if len(counters) <= 15:
                time.sleep(0.1)  # slower than the stream: the queue fills and the reader waits
                queued.append(source.stats.queued)
            if len(counters) == 75:
                break
        assert source.stats.dropped == 0
    assert np.all(np.diff(counters) == 1), counters
    assert max(queued) == 4 and all(q <= 4 for q in queued), queued


def test_close_stops_the_reader_promptly_even_while_it_waits_to_reconnect(server):
    source = open_source(server.url, reconnect=None, backoff=60.0, **OPTIONS)
    consumer = threading.Thread(target=lambda: list(source))  # blocks in iteration, waiting for frames
    consumer.start()
    server.stop()
    time.sleep(1.0)  # the reader notices the loss and waits 60 s before its first reconnect attempt
    source.close()
    consumer.join(timeout=10)
    readers = [t for t in threading.enumerate() if t.name == f"autotrack {source.name}"]
    assert readers == [] and not consumer.is_alive()
    assert list(source) == []


def test_unreachable_streams_fail_within_the_open_timeout():
    refused = f"rtsp://127.0.0.1:{free_port()}/test"
    with pytest.raises(SourceError, match=f"cannot open stream {refused} within 10 s"):
        open_source(refused, **OPTIONS)
    with pytest.raises(SourceError, match="cannot open stream"):
        open_source("rtsp://", **OPTIONS)

    # a server that accepts the connection and never answers: only the open timeout ends the wait
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"rtsp://user:secret@127.0.0.1:{silent.getsockname()[1]}/test"
        with pytest.raises(SourceError, match=r"cannot open stream rtsp://\*\*\*@127.0.0.1:\d+/test within 2 s") as err:
            open_source(url, open_timeout=2.0)
        assert "secret" not in str(err.value)


def test_wrong_path_on_a_running_server(server):
    with pytest.raises(SourceError, match="cannot open stream .*/nothing-here"):
        open_source(server.url.replace("/test", "/nothing-here"), **OPTIONS)
