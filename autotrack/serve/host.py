"""StreamHost: the streams of one Ray actor (`autotrack serve --ray`), run by a console of its own.

The actor runs a `Console` as a one-process server does: one copy of each model set, each stream's session on it,
compute threads serving the streams in turn (`Scheduler`), each stream writing its own files. The console in
front (`autotrack.serve.remote`) places the streams, forwards the requests by stream ID and pulls what the pages
show: each stream's state and the messages it published since the last pull (frames with their JPEG, state
changes), through a `Subscription` as a web client gets them, so a late pull gets the newest frame and every event.
Every method is a coroutine, so Ray runs the actor's calls on one event loop, the one the subscriptions deliver to.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import ExitStack

from autotrack.serve.cameras import Camera
from autotrack.serve.channel import Item, Subscription
from autotrack.serve.console import Console
from autotrack.serve.worker import RunOptions
from autotrack.types import Prompt


class StreamHost:
    """A Ray actor's console: `add` a stream, pass it requests by its ID, `pull` what happened. `threads`: torch
    threads (the CPUs the actor asked Ray for); `environment`: the variables a camera's url and MQTT read, from the
    console's environment (arguments, not Ray's runtime environment, which its dashboard shows)."""

    def __init__(self, options: RunOptions, max_streams: int, threads: int, environment: dict[str, str]) -> None:
        import ray
        import torch

        os.environ.update(environment)
        torch.set_num_threads(threads)
        self.console = Console(options, max_streams)
        self.incarnation = uuid.uuid4().hex  # a new one after Ray restarts the actor: the front adds the streams again
        self.place = {"address": ray.util.get_node_ip_address(), "node": ray.get_runtime_context().get_node_id(),
                      "pid": os.getpid()}
        self._subscriptions: dict[str, tuple[ExitStack, Subscription]] = {}

    async def add(self, camera: Camera) -> list[dict]:
        """Start a stream; returns its event log so far (later lines come with `pull`)."""
        worker = self.console.add(camera)
        events = worker.events()  # then the subscription: the worker thread is loading, nothing comes between
        stack = ExitStack()
        self._subscriptions[camera.name] = (stack, stack.enter_context(worker.channel.subscribe()))
        return events

    async def pull(self) -> tuple[str, dict, dict[str, tuple[dict, list[Item]]]]:
        """This actor's incarnation and place, and for each stream its state and the messages since the last pull."""
        return self.incarnation, self.place, {stream_id: (self.console.get(stream_id).info(), subscription.drain())
                                              for stream_id, (_, subscription) in self._subscriptions.items()}

    async def control(self, stream_id: str, action: str) -> dict:
        """`start`, `pause` or `stop` a stream (as the console's buttons); returns its state then."""
        worker = self.console.get(stream_id)
        {"start": worker.start, "pause": worker.pause, "stop": worker.stop}[action]()
        return worker.info()

    async def add_prompt(self, stream_id: str, prompt: Prompt, object_id: int | None, class_name: str) -> int:
        return self.console.get(stream_id).add_prompt(prompt, object_id, class_name)

    async def remove_object(self, stream_id: str, object_id: int) -> None:
        self.console.get(stream_id).remove_object(object_id)

    async def set_classes(self, stream_id: str, classes: list[str] | None) -> None:
        self.console.get(stream_id).set_classes(classes)

    async def merge(self, stream_id: str, keep: int, other: int) -> None:
        self.console.get(stream_id).merge(keep, other)

    async def split(self, stream_id: str, object_id: int) -> int:
        return self.console.get(stream_id).split(object_id)

    async def files(self, stream_id: str) -> list[dict]:
        return self.console.get(stream_id).files()

    async def gallery(self, stream_id: str) -> list[dict]:
        return self.console.get(stream_id).gallery()

    async def thumbnail(self, stream_id: str, object_id: int) -> bytes:
        return self.console.get(stream_id).thumbnail(object_id)

    async def remove(self, stream_id: str, wait: float | None) -> None:
        """Stop a stream, its files complete (waiting up to `wait` seconds), and forget it."""
        stack, _ = self._subscriptions.pop(stream_id)
        stack.close()
        await asyncio.to_thread(self.console.remove, stream_id, wait)
