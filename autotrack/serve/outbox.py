"""The bounded, persistent queue every event publisher of the console shares (MQTT, webhooks), and the thread that
empties it: an event is written to an SQLite file first (a local write, on the compute thread), then a sender
thread delivers the oldest, deletes it once the other end has it, and tries again later when it could not, in
order. So an unreachable receiver loses nothing (up to `max_queued` messages; beyond that the oldest are dropped
and counted), nothing is sent twice that the other end confirmed, and what is left when the console stops is sent
when it starts again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

# (seq, topic, payload, retain): the row delivered; `topic` is wherever the publisher sends it
Message = tuple[int, str, str, bool]
FIRST_DELAY, MAX_DELAY = 0.5, 8.0  # seconds between failed deliveries: doubling from the first, up to the most


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
        self.ready = threading.Condition(self._lock)  # notified when a message is added or deleted

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

    def oldest(self) -> Message | None:
        """The oldest message (seq, topic, payload, retain), or None."""
        with self._lock:
            row = self._db.execute("SELECT seq, topic, payload, retain FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1], row[2], bool(row[3]))

    def delete(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self.ready.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every message to be delivered; whether they were."""
        with self.ready:
            return self.ready.wait_for(lambda: self._count() == 0, timeout)

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Sender:
    """A thread that delivers an outbox's messages one at a time, oldest first: `deliver(message)` returns True once
    the other end has it (the message is deleted) and False when it could not (tried again after a delay that
    doubles from FIRST_DELAY up to `max_delay`, or at once after `wake`)."""

    def __init__(self, outbox: Outbox, deliver: Callable[[Message], bool], name: str,
                 max_delay: float = MAX_DELAY) -> None:
        self.outbox = outbox
        self.closed = threading.Event()  # set by `close`: a delivery in progress may give up
        self._deliver = deliver
        self._max_delay = max_delay
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Try the oldest message again now (the other end is back)."""
        self._wake.set()

    def close(self, wait: float = 5.0) -> None:
        """Deliver what is queued (for up to `wait` seconds; the rest stays queued for the next start), then stop
        the thread and close the queue."""
        self.outbox.wait_empty(wait)
        self.closed.set()
        self._wake.set()
        self._thread.join(wait)
        if not self._thread.is_alive():  # else a delivery still hangs (the process is ending): leave it the file
            self.outbox.close()

    def _run(self) -> None:
        delay = FIRST_DELAY
        while not self.closed.is_set():
            message = self.outbox.oldest()
            if message is None:
                with self.outbox.ready:
                    self.outbox.ready.wait(0.5)
                continue
            if self._deliver(message):
                self.outbox.delete(message[0])
                delay = FIRST_DELAY
                continue
            self._wake.wait(delay)
            self._wake.clear()
            delay = min(delay * 2, self._max_delay)
