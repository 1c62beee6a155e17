"""Events out over MQTT: each camera's births, losses, re-entries, removals, class changes and reconnects, through
a bounded persistent queue, so a broker outage loses nothing and nothing is sent twice.

Topics, for a camera `gate` (the prefix is `autotrack`):

- `autotrack/gate/events`: every event, JSON `{"camera", "seq", "time", "frame", "kind", "id", "class", "reason"}`
  (`seq` grows with each event of the camera, for a consumer to spot a repeat or the order);
- `autotrack/gate/objects/<id>`: the same, for the events about that object;
- `autotrack/gate/status`: `online` or `offline`, retained, and the connection's last will (`offline`), as Home
  Assistant's availability topics expect.

Each camera has its own client (its own last will) and its own queue, an SQLite file under the console's output
folder: an event is written there first (on the compute thread: a local write), and a sender thread publishes the
oldest one with QoS 2 (exactly once), waits for the broker to take it, then deletes it. While the broker is away the
queue fills and the sender waits for the client to reconnect; the queue keeps at most `max_queued` events (beyond
that the oldest are dropped and counted). The user and password come from the environment (`AUTOTRACK_MQTT_USER`,
`AUTOTRACK_MQTT_PASSWORD`) and are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from autotrack.errors import InputError

logger = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV = "AUTOTRACK_MQTT_USER", "AUTOTRACK_MQTT_PASSWORD"
PUBLISHED = ("born", "resumed", "lost", "removed", "reconnected", "classes")  # the event kinds sent
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


class Outbox:
    """A bounded queue of messages in an SQLite file, oldest first; safe from any thread."""

    def __init__(self, path: Path, max_queued: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_queued = max_queued
        self.dropped = 0  # the oldest messages dropped because the queue was full
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, "
                         "payload TEXT, retain INTEGER)")
        self._lock = threading.Lock()
        self.ready = threading.Condition(self._lock)  # notified when a message is added

    def push(self, messages: list[tuple[list[str], dict | str, bool]]) -> None:
        """Add (topics, payload, retain) messages in one transaction, one row per topic; a dict payload gets its
        `seq`, the same on every topic (its first row's)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for topics, payload, retain in messages:
                seq = None
                for topic in topics:
                    row = self._db.execute("INSERT INTO outbox (topic, payload, retain) VALUES (?, '', ?)",
                                           (topic, int(retain)))
                    seq = seq or row.lastrowid
                    text = json.dumps({**payload, "seq": seq}) if isinstance(payload, dict) else payload
                    self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (text, row.lastrowid))
            excess = self._count() - self.max_queued
            if excess > 0:
                self._db.execute("DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                                 (excess,))
                self.dropped += excess
            self._db.execute("COMMIT")
            self.ready.notify_all()

    def oldest(self) -> tuple[int, str, str, bool] | None:
        """The oldest message (seq, topic, payload, retain), or None."""
        with self._lock:
            row = self._db.execute("SELECT seq, topic, payload, retain FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1], row[2], bool(row[3]))

    def delete(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CameraEvents:
    """One camera's events to MQTT: `publish` queues a frame's event rows; a sender thread delivers them."""

    def __init__(self, settings: MqttSettings, camera: str, queue_file: Path) -> None:
        import paho.mqtt.client as mqtt

        self.camera = camera
        self.topic = f"{settings.prefix}/{camera}"
        self.outbox = Outbox(queue_file, settings.max_queued)
        self._connected = threading.Event()
        self._online = False  # the status last given
        self._closed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{settings.prefix}-{camera}",
                                   clean_session=False)
        if os.environ.get(USER_ENV):
            self._client.username_pw_set(os.environ[USER_ENV], os.environ.get(PASSWORD_ENV))
        self._client.will_set(f"{self.topic}/status", OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(0.5, 8)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda client, userdata, flags, reason, properties: self._connected.clear()
        self._client.connect_async(settings.host, settings.port, keepalive=30)
        self._client.loop_start()
        self._sender = threading.Thread(target=self._send, name=f"autotrack mqtt {camera}", daemon=True)
        self._sender.start()

    def status(self, online: bool) -> None:
        """The camera's retained status: online while it runs."""
        self._online = online
        self.outbox.push([([f"{self.topic}/status"], ONLINE if online else OFFLINE, True)])

    def publish(self, rows: list[dict], classes: dict[int, str]) -> None:
        """Queue the event rows (`messages.event_row`) of the kinds sent, with each object's class from `classes`."""
        messages = []
        for row in rows:
            if row["kind"] not in PUBLISHED:
                continue
            topics = [f"{self.topic}/events"] + ([f"{self.topic}/objects/{row['id']}"] if row["id"] is not None else [])
            messages.append((topics, {"camera": self.camera, **row, "class": classes.get(row["id"], "")}, False))
        if messages:
            self.outbox.push(messages)

    def close(self, wait: float = 5.0) -> None:
        """Deliver what is queued (for up to `wait` seconds; the rest stays queued for the next start), then
        disconnect."""
        with self.outbox.ready:
            self.outbox.ready.wait_for(lambda: self.outbox._count() == 0, wait)
        self._closed.set()
        self._sender.join(wait)
        self._client.disconnect()
        self._client.loop_stop()
        self.outbox.close()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        """Connected (again): a camera that runs says so again, as the broker may have sent its last will."""
        self._connected.set()
        if self._online:
            self.status(True)

    def _send(self) -> None:
        """Publish the oldest queued message, wait until the broker has it, delete it; again, in order."""
        while not self._closed.is_set():
            message = self.outbox.oldest()
            if message is None:
                with self.outbox.ready:
                    self.outbox.ready.wait(0.5)
                continue
            if not self._connected.wait(0.5):
                continue
            seq, topic, payload, retain = message
            info = self._client.publish(topic, payload, qos=2, retain=retain)
            while not info.is_published() and not self._closed.is_set():
                self._closed.wait(0.02)  # a message in flight is sent again by the client as it reconnects
            if info.is_published():
                self.outbox.delete(seq)
                with self.outbox.ready:
                    self.outbox.ready.notify_all()
