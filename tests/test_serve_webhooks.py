"""Events out to webhooks, against a local HTTP server (the standard library's, on a loopback port): in order, signed,
none lost and none twice across an outage, no redirect followed, a refused event dropped rather than blocking."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from live_stream import free_port
from serve_helpers import wait_for

import autotrack.pipeline.build as build
from autotrack.cli import main
from autotrack.errors import InputError
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.prompters.manual import ManualPrompts
from autotrack.serve import Console, RunOptions
from autotrack.serve.cameras import Camera, CameraError
from autotrack.serve.messages import event_row
from autotrack.serve.webhooks import SECRET_ENV, SIGNATURE_HEADER, CameraWebhooks, check_webhook

pytestmark = pytest.mark.timeout(120)

SCRIPT = [("born", 1), ("born", 2), ("occluded", 1), ("resumed", 1), ("lost", 2), ("reidentified", 2),
          ("reconnected", None)]
SENT = [(kind, object_id) for kind, object_id in SCRIPT if kind != "occluded"]  # occlusions are not sent


class Receiver:
    """An HTTP server on 127.0.0.1:port that keeps each POST it takes (path, headers, body) and answers
    `status(event)` (a 2xx takes it);
    it can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook?key=abc"
        self.received: list[tuple[str, dict, bytes]] = []
        self.status = lambda body: 204
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.status(json.loads(body))
                if 200 <= status < 300:
                    receiver.received.append((self.path, dict(self.headers), body))
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.received]


@pytest.fixture
def receiver():
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def rows(frame: int) -> list[dict]:
    return [event_row(kind, frame, object_id, reason=f"step {frame}") for kind, object_id in SCRIPT]


def test_events_arrive_in_order_signed_and_once_across_an_outage(receiver, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "s3cret")
    hooks = CameraWebhooks([receiver.url], "gate", tmp_path / "queue")
    try:
        for frame in range(0, 60, 10):  # the endpoint is away for the events of frames 20 and 30
            if frame == 20:
                receiver.stop()
            if frame == 40:
                assert len(hooks.endpoints[0].outbox) > 0  # kept while the endpoint was away
                receiver.start()
            hooks.publish(rows(frame), {1: "person", 2: "car"})
            if frame in (20, 30):
                time.sleep(1.0)  # a few seconds away, the sender trying again meanwhile
            if frame in (0, 10):
                wait_for(lambda: len(receiver.received) == len(SENT) * (frame // 10 + 1), 30, "the events so far")
        wait_for(lambda: len(receiver.received) >= 6 * len(SENT), 60, "every event")
        assert hooks.endpoints[0].outbox.wait_empty(10)
    finally:
        hooks.close()
    bodies = receiver.bodies()
    assert [(b["frame"], b["kind"], b["id"]) for b in bodies] == [
        (frame, kind, object_id) for frame in range(0, 60, 10) for kind, object_id in SENT]
    assert [b["seq"] for b in bodies] == list(range(1, len(bodies) + 1))  # in order, none twice
    assert bodies[0] == {**bodies[0], "camera": "gate", "class": "person", "reason": "step 0"}
    path, headers, raw = receiver.received[0]
    assert path == "/hook?key=abc" and headers["Content-Type"] == "application/json"
    assert headers[SIGNATURE_HEADER] == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()


def test_the_queue_outlives_the_process(receiver, tmp_path):
    receiver.stop()
    hooks = CameraWebhooks([receiver.url], "gate", tmp_path / "queue")
    hooks.publish(rows(0), {})
    hooks.close(wait=0.5)  # the endpoint is away: the events stay queued
    receiver.start()
    hooks = CameraWebhooks([receiver.url], "gate", tmp_path / "queue")  # as a restarted console opens it
    try:
        wait_for(lambda: len(receiver.received) == len(SENT), 30, "the queued events")
    finally:
        hooks.close()
    assert [(b["kind"], b["seq"]) for b in receiver.bodies()] == [(kind, i + 1) for i, (kind, _) in enumerate(SENT)]


def test_a_refused_event_is_dropped_a_failing_one_retried_and_no_redirect_followed(receiver, tmp_path):
    answers = {("born", 1): [400], ("resumed", 1): [302], ("lost", 2): [500, 503]}  # then 204
    receiver.status = lambda event: (answers.get((event["kind"], event["id"])) or [204]).pop(0)
    hooks = CameraWebhooks([receiver.url], "gate", tmp_path / "queue")
    try:
        hooks.publish(rows(0), {})
        wait_for(lambda: len(receiver.received) == len(SENT) - 1, 30, "the events")
    finally:
        hooks.close()
    assert [(b["kind"], b["id"]) for b in receiver.bodies()] == SENT[1:]  # the first, refused (400), is dropped
    assert hooks.endpoints[0].rejected == 1
    assert {path for path, _, _ in receiver.received} == {"/hook?key=abc"}  # the 302 was not followed


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/hook", "a webhook is an http:// or https:// url"),
    ("example.com/hook", "a webhook is an http:// or https:// url"),
    ("http://8.8.8.8/hook", "plain http only to this machine or a private network"),
    ("http://169.254.169.254/latest", "plain http only to this machine or a private network"),
    ("https://user:pass@example.com/hook", "no user or password"),
    ("https://example.com:99999/hook", "bad port"),
])
def test_a_bad_webhook_fails_in_one_line(url, message):
    with pytest.raises(InputError, match=message):
        check_webhook(url)


def test_https_anywhere_and_http_to_this_machine_or_a_private_network():
    for url in ("https://hooks.example.com/x", "http://127.0.0.1:8123/api/webhook/x", "http://localhost/x",
                "http://192.168.1.20:1880/events", "http://10.1.2.3/x", "http://[::1]:8080/x"):
        assert check_webhook(url) == url


def test_the_command_and_the_camera_list_refuse_a_bad_webhook_before_any_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "load_models", lambda *args: pytest.fail("a model was loaded"))
    result = CliRunner().invoke(main, ["serve", "--webhook", "http://8.8.8.8/hook", "x.mp4"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "--webhook: plain http only to this machine" in result.output
    with pytest.raises(CameraError, match="camera 'a': webhooks: a webhook is an http"):
        Camera("a", "a.mp4", webhooks=["gopher://x"])
    with pytest.raises(CameraError, match="camera 'a': webhooks are a list of urls"):
        Camera("a", "a.mp4", webhooks="https://x")


def test_a_console_source_posts_its_events_to_the_service_and_camera_webhooks(receiver, tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    other = Receiver()
    other.start()
    options = RunOptions("manual-sam2", {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"},
                         prompts=ManualPrompts.from_options(["40,30,90,80"]), output_dir=tmp_path / "out",
                         webhooks=(receiver.url,))
    console = Console(options)
    try:
        console.add(Camera("yard", str(clip), webhooks=[other.url]))
        wait_for(lambda: receiver.received and other.received, 60, "the first event at both")
    finally:
        console.close()
        other.stop()
    born = receiver.bodies()[0]
    assert born["kind"] == "born" and born["camera"] == "yard" and born["seq"] == 1
    assert other.bodies()[0] == born
    assert (tmp_path / "out" / ".webhooks" / "yard").is_dir()
