"""Events out over MQTT, against a real broker (Debian's mosquitto on a loopback port, started here): in order, on
the expected topics, and after a broker outage every event once."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from live_stream import free_port
from serve_helpers import wait_for

from autotrack.errors import InputError
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.prompters.manual import ManualPrompts
from autotrack.serve import Console, RunOptions
from autotrack.serve.cameras import Camera
from autotrack.serve.messages import event_row
from autotrack.serve.mqtt import CameraEvents, MqttSettings
from autotrack.serve.outbox import Outbox

mqtt = pytest.importorskip("paho.mqtt.client")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not Path(MOSQUITTO).is_file(), reason="mosquitto is not installed")]


class Broker:
    """mosquitto on 127.0.0.1:port, persistent (it keeps sessions and queued messages across a restart)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                               f"persistence_location {folder}/\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.process.terminate()  # mosquitto saves its sessions as it stops
        self.process.wait(10)


class Subscriber:
    """A persistent-session client that collects (topic, payload) of what it receives, in order."""

    def __init__(self, port: int, topic: str) -> None:
        self.received: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False)
        self.client.on_connect = lambda client, *args: client.subscribe(topic, qos=2)
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message) -> None:
        with self.lock:
            self.received.append((message.topic, message.payload.decode(), message.retain))

    def on(self, topic: str) -> list[str]:
        with self.lock:
            return [payload for t, payload, _ in self.received if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    yield broker
    if broker.process.poll() is None:
        broker.stop()


def test_events_arrive_in_order_and_once_across_a_broker_outage(broker, tmp_path):
    subscriber = Subscriber(broker.port, "autotrack/gate/#")
    wait_for(lambda: subscriber.client.is_connected(), 10, "the subscriber")
    events = CameraEvents(MqttSettings("127.0.0.1", broker.port), "gate", tmp_path / "queue" / "gate.sqlite")
    events.status(True)
    try:
        script = [("born", 1), ("born", 2), ("occluded", 1), ("resumed", 1), ("lost", 2), ("reconnected", None)]
        for frame in range(60):  # a scripted run: 6 events every 10 frames; the broker is away for frames 20-39
            if frame == 20:
                broker.stop()
            if frame == 40:
                assert len(events.outbox) > 0  # kept while the broker was away
                broker.start()
            if frame % 10 == 0:
                rows = [event_row(kind, frame, object_id, reason=f"step {frame}") for kind, object_id in script]
                events.publish(rows, {1: "person", 2: "car"})
            time.sleep(0.1)
        wait_for(lambda: len(subscriber.on("autotrack/gate/events")) >= 30, 30, "every event")
        time.sleep(1.0)  # any repeat would come now
        assert len(events.outbox) == 0 and events.outbox.dropped == 0
    finally:
        events.close()
        subscriber.close()
    payloads = [json.loads(p) for p in subscriber.on("autotrack/gate/events")]
    assert [(p["frame"], p["kind"], p["id"]) for p in payloads] == [
        (frame, kind, object_id) for frame in range(0, 60, 10) for kind, object_id in script if kind != "occluded"]
    assert [p["seq"] for p in payloads] == sorted({p["seq"] for p in payloads})  # in order, none twice
    assert payloads[0] == {**payloads[0], "camera": "gate", "class": "person", "reason": "step 0"}
    person = [json.loads(p) for p in subscriber.on("autotrack/gate/objects/1")]
    assert [(p["frame"], p["kind"]) for p in person][:2] == [(0, "born"), (0, "resumed")]
    assert len(person) == 12 and len(subscriber.on("autotrack/gate/objects/2")) == 12
    assert subscriber.on("autotrack/gate/status")[0] == "online"


def test_a_console_source_sends_its_events_and_a_retained_status(broker, tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    subscriber = Subscriber(broker.port, "autotrack/#")
    options = RunOptions("manual-sam2", {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"},
                         prompts=ManualPrompts.from_options(["40,30,90,80"]), output_dir=tmp_path / "out",
                         mqtt=MqttSettings("127.0.0.1", broker.port))
    console = Console(options)
    try:
        worker = console.add(Camera("yard", str(clip)))
        wait_for(lambda: subscriber.on("autotrack/yard/events"), 60, "the first event")
        assert worker.state == "running"
    finally:
        console.close()
    born = json.loads(subscriber.on("autotrack/yard/events")[0])
    assert born["kind"] == "born" and born["camera"] == "yard" and born["seq"] >= 1
    assert subscriber.on(f"autotrack/yard/objects/{born['id']}")[0] == subscriber.on("autotrack/yard/events")[0]
    wait_for(lambda: subscriber.on("autotrack/yard/status")[-1:] == ["offline"], 10, "the offline status")
    assert subscriber.on("autotrack/yard/status")[0] == "online"
    late = Subscriber(broker.port, "autotrack/yard/status")  # a client that comes later gets the retained status
    try:
        wait_for(lambda: late.on("autotrack/yard/status"), 10, "the retained status")
    finally:
        late.close()
        subscriber.close()
    assert late.received[0][1:] == ("offline", True)


def test_the_queue_outlives_the_process_and_keeps_at_most_its_bound(tmp_path):
    outbox = Outbox(tmp_path / "q.sqlite", max_queued=4)
    outbox.push([(["a/events", "a/objects/1"], {"kind": "born"}, False), (["a/status"], "online", True)])
    outbox.close()
    outbox = Outbox(tmp_path / "q.sqlite", max_queued=4)  # as a restarted console opens it
    assert outbox.oldest() == (1, "a/events", '{"kind": "born", "seq": 1}', False)
    outbox.delete(1)
    assert outbox.oldest() == (2, "a/objects/1", '{"kind": "born", "seq": 1}', False)
    outbox.push([(["a/events"], {"kind": "lost"}, False)] * 3)  # 5 rows: the oldest goes
    assert len(outbox) == 4 and outbox.dropped == 1 and outbox.oldest()[1:] == ("a/status", "online", True)
    outbox.close()


def test_the_broker_address_is_host_and_port():
    assert MqttSettings.parse("broker") == MqttSettings("broker", 1883)
    assert MqttSettings.parse("10.0.0.2:1884") == MqttSettings("10.0.0.2", 1884)
    for bad in ("broker:x", ":1883", "broker:70000"):
        with pytest.raises(InputError, match="--mqtt takes HOST or HOST:PORT"):
            MqttSettings.parse(bad)
