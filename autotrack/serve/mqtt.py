"""Events out over MQTT: each camera's births, losses, re-entries, removals, re-identifications, class changes and
reconnects, through a bounded persistent queue, so a broker outage loses nothing and nothing is sent twice.

Topics, for a camera `gate` (the prefix is `autotrack`):

- `autotrack/gate/events`: every event, JSON `{"camera", "seq", "time", "frame", "kind", "id", "class", "reason"}`
  (`seq` grows with each event of the camera, for a consumer to spot a repeat or the order);
- `autotrack/gate/objects/<id>`: the same, for the events about that object;
- `autotrack/gate/status`: `online` or `offline`, retained, and the connection's last will (`offline`), as Home
  Assistant's availability topics expect.

Each camera has its own client (its own last will) and its own queue (`autotrack.serve.outbox`), an SQLite file
under the console's output folder: an event is written there first, and a sender thread publishes the oldest one
with QoS 2 (exactly once), waits for the broker to take it, then deletes it. While the broker is away the queue
fills and the sender waits for the client to reconnect; the queue keeps at most `max_queued` events (beyond that
the oldest are dropped and counted). The user and password come from the environment (`AUTOTRACK_MQTT_USER`,
`AUTOTRACK_MQTT_PASSWORD`) and are never logged.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from autotrack.errors import InputError
from autotrack.serve.messages import outgoing
from autotrack.serve.outbox import Message, Outbox, Sender

logger = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV = "AUTOTRACK_MQTT_USER", "AUTOTRACK_MQTT_PASSWORD"
ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class MqttSettings:
    """Where events go: the broker's `host` and `port`, the topic `prefix`, and the most events a camera's queue
    keeps while the broker is away."""

    host: str
    port: int = 1883
    prefix: str = "autotrack"
    max_queued: int = 10000

    @classmethod
    def parse(cls, address: str) -> MqttSettings:
        """`HOST` or `HOST:PORT`, as `--mqtt` takes it."""
        host, colon, port = address.rpartition(":") if ":" in address else (address, "", "1883")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InputError(f"--mqtt takes HOST or HOST:PORT, got {address!r}")
        return cls(host, int(port))


class CameraEvents:
    """One camera's events to MQTT: `publish` queues a frame's event rows; a sender thread delivers them."""

    def __init__(self, settings: MqttSettings, camera: str, queue_file: Path) -> None:
        import paho.mqtt.client as mqtt

        self.camera = camera
        self.topic = f"{settings.prefix}/{camera}"
        self.outbox = Outbox(queue_file, settings.max_queued)
        self._connected = threading.Event()
        self._online = False  # the status last given
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{settings.prefix}-{camera}",
                                   clean_session=False)
        if os.environ.get(USER_ENV):
            self._client.username_pw_set(os.environ[USER_ENV], os.environ.get(PASSWORD_ENV))
        self._client.will_set(f"{self.topic}/status", OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(0.5, 8)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda client, userdata, flags, reason, properties: self._connected.clear()
        self._client.connect_async(settings.host, settings.port, keepalive=30)
        self._sender = Sender(self.outbox, self._deliver, f"autotrack mqtt {camera}")
        self._client.loop_start()

    def status(self, online: bool) -> None:
        """The camera's retained status: online while it runs."""
        self._online = online
        self.outbox.push([([f"{self.topic}/status"], ONLINE if online else OFFLINE, True)])

    def publish(self, rows: list[dict], classes: dict[int, str]) -> None:
        """Queue the event rows (`messages.event_row`) of the kinds sent, with each object's class from `classes`."""
        messages = [([f"{self.topic}/events"] + ([f"{self.topic}/objects/{payload['id']}"]
                                                  if payload["id"] is not None else []), payload, False)
                    for payload in outgoing(self.camera, rows, classes)]
        if messages:
            self.outbox.push(messages)

    def close(self, wait: float = 5.0) -> None:
        """Deliver what is queued (for up to `wait` seconds; the rest stays queued for the next start), then
        disconnect."""
        self._sender.close(wait)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        """Connected (again): a camera that runs says so again, as the broker may have sent its last will."""
        self._connected.set()
        if self._online:
            self.status(True)
        self._sender.wake()

    def _deliver(self, message: Message) -> bool:
        """Publish a queued message and wait until the broker has it (False while disconnected)."""
        if not self._connected.is_set():
            return False
        seq, topic, payload, retain = message
        info = self._client.publish(topic, payload, qos=2, retain=retain)
        while not info.is_published() and not self._sender.closed.is_set():
            self._sender.closed.wait(0.02)  # a message in flight is sent again by the client as it reconnects
        return info.is_published()
