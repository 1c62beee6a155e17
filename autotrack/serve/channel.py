"""Hand a worker thread's messages to the web clients on the event loop, without ever making the worker wait.

Each client has its own short list of pending messages. A frame replaces the client's pending frame (and takes
over its events), so a client too slow for every frame gets the newest ones and misses no event; status messages
are always delivered.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

FRAME = "frame"
Item = tuple[dict, bytes | None]  # a JSON-able message, and the frame's JPEG for frame messages


class Subscription:
    """One client's pending messages; filled on the event loop (via `Channel.publish`), read with `get`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.skipped = 0  # frames replaced before this client took them
        self._pending: deque[Item] = deque()
        self._ready = asyncio.Event()

    def put(self, message: dict, jpeg: bytes | None) -> None:
        """Queue a message (call on the event loop); a new frame replaces a pending one."""
        if message["type"] == FRAME:
            for item in self._pending:
                if item[0]["type"] == FRAME:
                    self._pending.remove(item)
                    message = {**message, "events": item[0]["events"] + message["events"]}
                    self.skipped += 1
                    break
        self._pending.append((message, jpeg))
        self._ready.set()

    def drain(self) -> list[Item]:
        """Every pending message, oldest first, taken without waiting (call on the event loop)."""
        items = list(self._pending)
        self._pending.clear()
        return items

    async def get(self) -> Item:
        """The next message, waiting for one."""
        while not self._pending:
            self._ready.clear()
            await self._ready.wait()
        return self._pending.popleft()


class Channel:
    """Fan-out of one source's messages to any number of subscribers; `publish` is safe from any thread."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._subscribers)

    def publish(self, message: dict, jpeg: bytes | None = None) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.put, message, jpeg)
            except RuntimeError:  # its event loop has closed: the server is shutting down
                pass

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription for the running event loop, for as long as the block runs."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscribers.discard(subscription)
