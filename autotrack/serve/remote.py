"""`autotrack serve --ray`: the console in front, its streams on Ray actors across the cluster.

`RayConsole` is the console the web app serves, with the sources, limits and camera list of `Console`, but each
source is a `RemoteSource` on a `StreamHost` actor. Streams on the same model set share an actor, up to
`streams_per_actor`; then a new actor starts wherever Ray finds `cpus_per_actor` CPUs and `gpus_per_actor` GPUs
free, spreading the actors over the nodes. Requests go to the stream's actor by its ID; for each actor a thread
(`ActorLink`) pulls its streams' state, frames and events about 20 times a second and publishes them to the pages,
as a local worker does.

Ray restarts an actor whose process or node died (`max_restarts`), wherever it fits. Its state is lost, so the
link adds back the streams that were running: each starts a new run from its source (a new `run-<n>` folder; the
files of the lost run stay readable: MOT and COCO JSON are valid after every frame and ffmpeg finishes the video
when its writer dies) and its log says `actor-lost`, then `restarted` with the new place.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import replace
from pathlib import Path

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from autotrack.cluster import check_fits
from autotrack.errors import AutotrackError, one_line
from autotrack.pipeline.build import ModelsKey, models_key
from autotrack.serve.cameras import PREFIX, Camera
from autotrack.serve.channel import FRAME, Channel, Item
from autotrack.serve.console import Console
from autotrack.serve.host import StreamHost
from autotrack.serve.messages import event_row
from autotrack.serve.mqtt import PASSWORD_ENV, USER_ENV
from autotrack.serve.source import ConsoleSource
from autotrack.serve.webhooks import SECRET_ENV
from autotrack.serve.worker import (
    ACTIVE,
    FAILED,
    KEEP_EVENTS,
    STARTING,
    STOPPED,
    Conflict,
    RunOptions,
    source_name,
)
from autotrack.types import Prompt

PULL_PERIOD = 0.05  # seconds between pulls that brought nothing
CALL_TIMEOUT = 60.0  # seconds an actor may take to answer a request (a new actor first loads torch)
RETRY = 0.5  # seconds between pulls while an actor does not answer


class ActorUnavailable(Conflict):
    """The stream's actor does not answer: it died and Ray is restarting it, or it has not started yet."""


class ActorLink:
    """One actor of the console and the streams placed on it; its thread pulls their state and adds the streams
    that wait to run (new ones, and those that ran when the actor was lost)."""

    def __init__(self, actor: ray.actor.ActorHandle, key: ModelsKey) -> None:
        self.actor = actor
        self.key = key  # the model set of every stream on it
        self.streams: dict[str, RemoteSource] = {}
        self.place: dict | None = None  # the actor's node address, node ID and process ID, once it answered
        self._incarnation: str | None = None
        self._lost = False
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="autotrack ray link", daemon=True)
        self._thread.start()

    def result(self, ref: ray.ObjectRef, timeout: float = CALL_TIMEOUT) -> object:
        """The result of an actor call; an error raised there is raised here as it was, a lost actor as
        `ActorUnavailable`."""
        try:
            return ray.get(ref, timeout=timeout)
        except RayTaskError as error:
            raise error.cause from None
        except (RayActorError, GetTimeoutError) as error:
            raise ActorUnavailable(f"the stream's Ray actor does not answer ({type(error).__name__}); try again once "
                                   f"it runs") from None

    def where(self) -> str | None:
        """The actor's node (address and the start of Ray's node ID) and process, once it answered."""
        place = self.place
        return f"{place['address']} (node {place['node'][:8]}, pid {place['pid']})" if place else None

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop pulling and end the actor (its streams are removed first, so their files are complete)."""
        self._closed = True
        self._wake.set()
        self._thread.join(CALL_TIMEOUT)
        ray.kill(self.actor, no_restart=True)

    def _run(self) -> None:
        while not self._closed:
            try:
                incarnation, place, updates = ray.get(self.actor.pull.remote(), timeout=CALL_TIMEOUT)
            except (RayActorError, GetTimeoutError) as error:
                if self._incarnation is not None and not self._lost:  # once per loss of a started actor
                    self._lost = True
                    for stream in list(self.streams.values()):
                        stream.lost(type(error).__name__)
                self._wake.wait(RETRY)
                self._wake.clear()
                continue
            if incarnation != self._incarnation:
                self._incarnation, restarted, self.place = incarnation, self._incarnation is not None, place
                if restarted:
                    for stream in list(self.streams.values()):
                        stream.restarted(self.where())
            self._lost = False
            for stream_id, (info, items) in updates.items():
                stream = self.streams.get(stream_id)
                if stream is not None:
                    stream.receive(info, items)
            for stream in [stream for stream in list(self.streams.values()) if stream.waiting]:
                stream.attach()
            if not any(items for _, items in updates.values()):
                self._wake.wait(PULL_PERIOD)
                self._wake.clear()


class RemoteSource(ConsoleSource):
    """A stream on a Ray actor: requests are forwarded to the actor; the state, latest frame and event log are those
    its `ActorLink` pulled last."""

    def __init__(self, camera: Camera, options: RunOptions, link: ActorLink) -> None:
        self.id = camera.name
        self.camera = camera
        self.name = source_name(camera.url)
        self.link = link
        self.source_dir = options.output_dir / self.id  # a shared file system: the same path on every node
        self.channel = Channel()
        self.last_frame: dict | None = None
        self.jpeg: bytes | None = None
        self.attached = False  # the stream is on the actor's console
        self.waiting = False  # to be added to the actor: started, or running when its actor was lost
        self._events: deque[dict] = deque(maxlen=KEEP_EVENTS)
        detector = camera.config(options.pipeline, options.overrides).detector is not None
        self._info = {"id": self.id, "source": self.name, "state": STOPPED, "error": None, "detector": detector,
                      "run": None, "frame": None, "stats": None, "objects": 0}

    # ------------------------------------------------------------------------------------------------- controls
    def start(self) -> None:
        """Resume or start a new run on the actor; a stream not on it waits for its link to add it."""
        if self.attached:
            self._control("start")
        elif self._info["state"] not in ACTIVE:
            self.waiting = True
            self._info.update(state=STARTING, error=None)
            self.link.wake()

    def pause(self) -> None:
        if self.attached:
            self._control("pause")

    def stop(self, wait: float | None = None) -> None:
        """End the run; a stream waiting for its actor (new, or its actor lost) is not added to it."""
        if self.attached:
            self._control("stop")
        elif self._info["state"] in ACTIVE:
            self.waiting = False
            self._log(STOPPED, "stopped")

    def close(self, wait: float | None = None) -> None:
        """Take the stream off its actor, its files complete (waiting up to `wait` seconds)."""
        self.link.streams.pop(self.id, None)
        self.waiting = False
        if self.attached:
            self.attached = False
            try:
                self.link.result(self.link.actor.remove.remote(self.id, wait), CALL_TIMEOUT + (wait or 0))
            except ActorUnavailable:  # a lost actor has no run to end
                pass

    def sweep(self, now: float | None = None) -> list[Path]:
        """Nothing here: the actor's console applies the camera's retention to the stream's outputs (as each run
        starts, and every `SWEEP_EVERY` seconds)."""
        return []

    # ------------------------------------------------------------------------------------------------- requests
    def add_prompt(self, prompt: Prompt, object_id: int | None = None, class_name: str = "") -> int:
        return self.link.result(self._actor().add_prompt.remote(self.id, prompt, object_id, class_name))

    def remove_object(self, object_id: int) -> None:
        self.link.result(self._actor().remove_object.remote(self.id, object_id))

    def set_classes(self, classes: list[str] | None) -> None:
        self.link.result(self._actor().set_classes.remote(self.id, classes))

    def merge(self, keep: int, other: int) -> None:
        self.link.result(self._actor().merge.remote(self.id, keep, other))

    def split(self, object_id: int) -> int:
        return self.link.result(self._actor().split.remote(self.id, object_id))

    # ------------------------------------------------------------------------------------------------- reading
    def info(self) -> dict:
        return {**self._info, "node": self.link.where()}

    def events(self) -> list[dict]:
        return list(self._events)

    def files(self) -> list[dict]:
        return self.link.result(self._actor().files.remote(self.id))

    def gallery(self) -> list[dict]:
        return self.link.result(self._actor().gallery.remote(self.id))

    def thumbnail(self, object_id: int) -> bytes:
        return self.link.result(self._actor().thumbnail.remote(self.id, object_id))

    # ------------------------------------------------------------------------------------------------- link side
    def attach(self) -> None:
        """Add the stream to the actor (which starts it); it stays waiting while the actor does not answer."""
        try:
            events = self.link.result(self.link.actor.add.remote(self.camera))
        except ActorUnavailable:
            return
        except AutotrackError as error:  # e.g. its file is not on the actor's node: the stream shows why
            self.waiting = False
            self._info["error"] = one_line(error)
            self._log(FAILED, "failed", self._info["error"])
            return
        self.attached, self.waiting = True, False
        for row in events:
            self._events.append(row)
            self.channel.publish({"type": "status", **self.info(), "events": [row]})

    def receive(self, info: dict, items: list[Item]) -> None:
        """What the actor's worker published since the last pull: keep the state, frame and log, pass them on."""
        self._info, self.attached = info, True  # the actor has it (again, after a pull that failed)
        for message, jpeg in items:
            if message["type"] == FRAME:
                self.last_frame, self.jpeg = message, jpeg
            self._events.extend(message["events"])
            self.channel.publish(message, jpeg)

    def lost(self, reason: str) -> None:
        """The actor stopped answering (its process or node died, or it is stuck): a running stream shows it is
        starting again; requests are refused until the actor answers (a restarted one no longer has the stream)."""
        if self.attached and self._info["state"] in ACTIVE:
            self._log(STARTING, "actor-lost", f"its Ray actor does not answer ({reason})")
        self.attached = False

    def restarted(self, where: str) -> None:
        """Ray restarted the actor without its streams: one that ran is added again (a new run from its source)."""
        self.attached = False
        if self._info["state"] in ACTIVE:
            self.waiting = True
            self._log(STARTING, "restarted", f"its Ray actor runs again on {where}; a new run starts")

    def _control(self, action: str) -> None:
        self._info = self.link.result(self.link.actor.control.remote(self.id, action))

    def _actor(self) -> ray.actor.ActorHandle:
        if not self.attached:
            raise Conflict(f"source {self.id} is {self._info['state']}, not on its Ray actor now: start it or wait")
        return self.link.actor

    def _log(self, state: str, kind: str, reason: str = "") -> None:
        """Change the state here (the actor cannot say), log it and tell the clients."""
        self._info["state"] = state
        row = event_row(kind, self.last_frame["frame"] if self.last_frame else None, reason=reason)
        self._events.append(row)
        self.channel.publish({"type": "status", **self.info(), "events": [row]})


class RayConsole(Console):
    """A `Console` whose streams run on Ray actors (see the module docstring); Ray must be initialised
    (`autotrack.cluster.connect`). Each actor asks for `cpus_per_actor` CPUs and `gpus_per_actor` GPUs and runs
    torch on that many threads (at least one), so the actors on a node never use more cores than it has."""

    def __init__(self, options: RunOptions, max_sources: int = 8, cameras_file: Path | None = None,
                 streams_per_actor: int = 4, cpus_per_actor: float = 1.0, gpus_per_actor: float = 0.0) -> None:
        check_fits("each actor", cpus_per_actor, gpus_per_actor)
        # absolute: actors run in other folders, maybe on other nodes (which must see it at the same path)
        super().__init__(replace(options, output_dir=Path(options.output_dir).resolve()), max_sources, cameras_file)
        self.streams_per_actor = streams_per_actor
        self.links: list[ActorLink] = []
        self._actor_class = ray.remote(StreamHost).options(
            num_cpus=cpus_per_actor, num_gpus=gpus_per_actor, max_restarts=-1, scheduling_strategy="SPREAD")
        self._threads = max(1, int(cpus_per_actor))

    def _new_worker(self, camera: Camera) -> RemoteSource:
        """Place the stream on the least busy actor of its model set with room for it, else on a new actor."""
        key = models_key(camera.config(self.options.pipeline, self.options.overrides))
        room = [link for link in self.links if link.key == key and len(link.streams) < self.streams_per_actor]
        if room:
            link = min(room, key=lambda link: len(link.streams))
        else:
            variables = {name: value for name, value in os.environ.items()  # what cameras' urls, MQTT, webhooks read
                         if name.startswith(PREFIX) or name in (USER_ENV, PASSWORD_ENV, SECRET_ENV)}
            actor = self._actor_class.remote(self.options, self.streams_per_actor, self._threads, variables)
            link = ActorLink(actor, key)
            self.links.append(link)
        source = RemoteSource(camera, self.options, link)
        link.streams[source.id] = source
        return source

    def close(self, wait: float = 10.0) -> None:
        """Stop every stream (their files complete), then end the actors."""
        super().close(wait)
        for link in self.links:
            link.close()
