"""SourceWorker: one source's session on the process's shared models, and what the console shows of it.

The worker's thread opens the source and reads its frames; a compute thread of the process (`Scheduler`) runs the
session on the newest frame, writes the run's MOT and COCO JSON files, and after each frame keeps the annotated
JPEG, the objects and the event log, and publishes them on the source's `Channel`. It never waits for a web client,
and a web client never waits for it: requests (prompts, removals, new classes) go to the pipeline, which applies them
at its next frame. Every source runs live: a stream with the `latest` policy, a recording at its own speed
(`RealTimeSource`), so a slow tracker skips frames (counted as dropped) rather than falling behind, and a fast one
does not race through a video before anyone could click on it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from autotrack.config import PipelineConfig
from autotrack.errors import AutotrackError, one_line
from autotrack.pipeline import Pipeline, new_session
from autotrack.prompters.manual import ManualPrompts
from autotrack.serve.cameras import Camera
from autotrack.serve.channel import FRAME, Channel
from autotrack.serve.messages import (
    encode_jpeg,
    event_row,
    identity_events,
    object_rows,
)
from autotrack.serve.modelsets import ModelSets
from autotrack.serve.mqtt import CameraEvents, MqttSettings
from autotrack.serve.retention import sweep
from autotrack.serve.scheduler import Lane, Scheduler
from autotrack.serve.source import ConsoleSource
from autotrack.serve.webhooks import CameraWebhooks
from autotrack.sinks import FrameAnnotator, Outputs
from autotrack.sources import Frame, LiveSource, RealTimeSource, is_live, open_source
from autotrack.sources.live import redact
from autotrack.types import EventKind, FrameResult, Prompt, Status

logger = logging.getLogger(__name__)

STARTING, RUNNING, PAUSED, STOPPED, FINISHED, FAILED = "starting", "running", "paused", "stopped", "finished", "failed"
ACTIVE = (STARTING, RUNNING, PAUSED)
OUTPUT_FILES = {"mot": "tracks.txt", "json": "tracks.json", "video": "tracks.mp4"}  # a camera's outputs, by kind
LOST = EventKind.LOST  # the status of a lost object in the object list (the engine's statuses are `Status`)
KEEP_LOST = 10  # lost objects still listed (status "lost"), most recent first
KEEP_EVENTS = 500  # event log lines kept per source, for pages that open later
THUMBNAIL = 96  # the longer side of a gallery thumbnail, in pixels
RETIRED = "retired"  # the status of a gallery object no longer followed (still revivable)
NEW_ID = (EventKind.BORN, EventKind.REIDENTIFIED, EventKind.MERGED, EventKind.SPLIT)  # events that list an ID live


class ConsoleError(AutotrackError):
    """A console request that cannot be done; subclasses say which HTTP status answers it."""


class NotFound(ConsoleError, LookupError):
    """No such source, object or file."""


class Conflict(ConsoleError):
    """The request does not fit the source's state (not running, too many sources)."""


@dataclass
class RunOptions:
    """How every source of a console runs.

    Attributes:
        pipeline: ready pipeline name, YAML file or PipelineConfig.
        overrides: typed config overrides by dotted key, e.g. {"sam.imgsz": 512} (see `load_config`), for a
            pipeline given by name (and a camera's own pipeline).
        prompts: user prompts applied to every source from its first frame (or None).
        max_frames: stop each run after this many frames.
        reconnect: live sources: reopen attempts after the stream is lost (None: forever).
        output_dir: each source writes into `output_dir/<source id>/run-<n>/`.
        max_width: frames sent to pages are scaled down to this width.
        mqtt: where each source's events go (`autotrack.serve.mqtt`), or None.
        webhooks: urls every source's events are POSTed to (`autotrack.serve.webhooks`), besides a camera's own.
    """

    pipeline: str | PipelineConfig = "yolo-sam2"
    overrides: dict[str, object] = field(default_factory=dict)
    prompts: ManualPrompts | None = None
    max_frames: int | None = None
    reconnect: int | None = None
    output_dir: Path = Path("serve-output")
    max_width: int = 960
    mqtt: MqttSettings | None = None
    webhooks: tuple[str, ...] = ()


def source_name(spec: str) -> str:
    """What the console calls a source: the spec without a URL's user and password."""
    return redact(spec) if is_live(spec) else spec


def source_slug(spec: str) -> str:
    """A short ID for URLs and folder names: a file's stem, a stream's host and path, `webcam-N`."""
    if spec.isdigit():
        return f"webcam-{spec}"
    text = re.sub(r"^[a-z]+://([^/@]*@)?", "", spec, flags=re.IGNORECASE) if is_live(spec) else Path(spec).stem
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:40]
    return slug or "source"


class SourceWorker(ConsoleSource):
    """Reads one source in a background thread and runs its frames on the `scheduler`'s compute threads, with a
    session on the models of `models`; `start`, `pause`, `stop` and the requests are safe from any thread.

    Attributes:
        id: the source's ID in URLs and folder names.
        name: the source as the user gave it (credentials removed).
        state: starting, running, paused, stopped, finished or failed.
        error: the one-line reason of a failed run.
        channel: where each frame's message (with its JPEG) and each state change are published.
        folder: the current run's output folder.
        camera: what the source is and how it runs (url, pipeline, classes or text, target fps, outputs).
    """

    def __init__(self, camera: Camera, options: RunOptions, models: ModelSets, scheduler: Scheduler) -> None:
        self.id = camera.name
        self.camera = camera
        self.name = source_name(camera.url)
        self.options = options
        self.has_detector = camera.config(options.pipeline, options.overrides).detector is not None
        self.models = models
        self.scheduler = scheduler
        self.channel = Channel()
        self.state = STOPPED
        self.error: str | None = None
        self.folder: Path | None = None
        self.last_frame: dict | None = None  # the latest frame message
        self.jpeg: bytes | None = None  # and its annotated frame
        self._events: deque[dict] = deque(maxlen=KEEP_EVENTS)
        self._pipeline: Pipeline | None = None
        self._lane: Lane | None = None  # the run's place in the scheduler
        self._failure: Exception | None = None  # what failed on the compute thread
        self._ids: set[int] = set()  # live object IDs, and those just given out to a prompt
        self._first_seen: dict[int, int] = {}  # object ID -> frame it was born on
        self._rows: dict[int, dict] = {}  # object ID -> its latest row
        self._lost: OrderedDict[int, dict] = OrderedDict()
        self._renamed: dict[int, int] = {}  # ID a requested merge or split gives -> the ID it replaces
        self._gallery: list[dict] = []  # re-identification's gallery as of the latest frame
        self._thumbnails: dict[int, np.ndarray] = {}  # gallery object ID -> its crop from its latest good frame
        self._annotator: FrameAnnotator | None = None
        self._cond = threading.Condition()  # guards the state; wakes a paused worker
        self._stop = threading.Event()  # the user stopped the run
        self._done = threading.Event()  # the run ends: stopped, max frames reached, or failed on a frame
        self._thread: threading.Thread | None = None
        self.mqtt = None if options.mqtt is None else CameraEvents(
            options.mqtt, self.id, options.output_dir / ".mqtt" / f"{self.id}.sqlite")
        urls = [*options.webhooks, *(camera.webhooks or [])]
        self.webhooks = CameraWebhooks(urls, self.id, options.output_dir / ".webhooks" / self.id) if urls else None

    @property
    def pipeline(self) -> Pipeline | None:
        """The current run's session (None before it opens and after it ends)."""
        return self._pipeline

    @property
    def source_dir(self) -> Path:
        """The folder every run of this source writes into (downloads come only from here)."""
        return self.options.output_dir / self.id

    # ------------------------------------------------------------------------------------------------- controls
    def start(self) -> None:
        """Resume a paused run, or start a new run (in a new output folder) when none is going on."""
        with self._cond:
            if self.state == PAUSED:
                self._set_state(RUNNING, "resumed")
                self._cond.notify_all()
                return
            if self.state in ACTIVE:
                return
            self._stop.clear()
            self._done.clear()
            self._new_run()
            self._set_state(STARTING, "starting", f"outputs in {self.folder.name}/")
            self.sweep()
            self._thread = threading.Thread(target=self._run, name=f"autotrack serve {self.id}", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        """Stop taking frames until `start`; a live stream goes on and its frames are dropped meanwhile."""
        with self._cond:
            if self.state == RUNNING:
                self._set_state(PAUSED, "paused")

    def stop(self, wait: float | None = None) -> None:
        """End the run (its files are complete); wait up to `wait` seconds for the worker thread to finish."""
        with self._cond:
            if self.state not in ACTIVE:
                return
            self._stop.set()
            self._cond.notify_all()
            thread = self._thread
        self._end()
        if wait is not None and thread is not None:
            thread.join(wait)

    def close(self, wait: float | None = None) -> None:
        """`stop`; with MQTT or webhooks, wait for the run to end (up to `wait` seconds, default 10: its last
        events are queued by then), deliver the queued events (as long again) and disconnect from the broker."""
        outlets = [outlet for outlet in (self.mqtt, self.webhooks) if outlet is not None]
        if not outlets:
            self.stop(wait)
            return
        wait = 10.0 if wait is None else wait
        self.stop(wait)
        for outlet in outlets:
            outlet.close(wait)

    def sweep(self, now: float | None = None) -> list[Path]:
        """Delete the outputs the camera's `retention` no longer keeps at `now` (default: the time), never the
        current run's; the files deleted."""
        rule = self.camera.retention_rule()
        if rule is None:
            return []
        with self._cond:  # no run starts meanwhile
            keep = self.folder if self.state in ACTIVE else None
            return sweep(self.source_dir, rule, keep, time.time() if now is None else now)

    # ------------------------------------------------------------------------------------------------- requests
    def add_prompt(self, prompt: Prompt, object_id: int | None = None, class_name: str = "") -> int:
        """Prompt a new object (`object_id` None) or re-prompt a live one on the next frame; returns its ID."""
        pipeline = self._running_pipeline()
        if object_id is not None:
            self._check_live(object_id)
        object_id = pipeline.add_prompt(prompt, object_id, class_name)
        self._ids.add(object_id)
        return object_id

    def remove_object(self, object_id: int) -> None:
        """Stop following an object from the next frame on; its ID is retired."""
        pipeline = self._running_pipeline()
        self._check_live(object_id)
        pipeline.remove(object_id)

    def merge(self, keep: int, other: int) -> None:
        """Live object `other` is gallery object `keep` (re-identification missed the return): from the next frame
        on it carries ID `keep`. `keep` must not be visible."""
        pipeline = self._reid_pipeline()
        self._check_live(other)
        self._gallery_entry(keep)
        if keep == other or self._rows.get(keep, {}).get("status") == Status.TRACKED:
            raise Conflict(f"#{keep} is visible: it cannot also be #{other}")
        self._renamed[keep] = other
        pipeline.merge(keep, other)

    def split(self, object_id: int) -> int:
        """Undo a wrong revival (or merge) of a live object: it carries a new ID (returned) from the next frame
        on, and `object_id` is again the retired object it was."""
        pipeline = self._reid_pipeline()
        self._check_live(object_id)
        if not self._gallery_entry(object_id)["revived"]:
            raise Conflict(f"#{object_id} was not revived or merged: there is nothing to split")
        new_id = pipeline.split(object_id)
        self._renamed[new_id] = object_id
        self._ids.add(new_id)
        return new_id

    def set_classes(self, classes: list[str] | None) -> None:
        """Change the detector's classes (or text prompts) mid-stream; objects keep their IDs."""
        self._running_pipeline().set_classes(classes)
        row = event_row("classes", self._frame(), reason=", ".join(classes) if classes else "all classes")
        self._log(row)
        self._send([row], {})

    # ------------------------------------------------------------------------------------------------- reading
    def info(self) -> dict:
        """The source's state for the API and the pages."""
        frame = self.last_frame or {}
        return {
            "id": self.id,
            "source": self.name,
            "state": self.state,
            "error": self.error,
            "detector": self.has_detector,  # whether the classes can be changed
            "run": self.folder.name if self.folder else None,
            "frame": frame.get("frame"),
            "stats": frame.get("stats"),
            "objects": sum(1 for row in frame.get("objects", []) if row["status"] != LOST),
        }

    def gallery(self) -> list[dict]:
        """The objects re-identification remembers, as of the latest frame (empty when it is off): live ones and
        retired ones still revivable, most recently seen first."""
        return list(self._gallery)

    def thumbnail(self, object_id: int) -> bytes:
        """A gallery object's picture (JPEG): its box on the latest frame that added to its gallery."""
        crop = self._thumbnails.get(object_id)
        if crop is None:
            raise NotFound(f"no object {object_id} in the gallery of source {self.id}")
        return encode_jpeg(crop, THUMBNAIL)

    def events(self) -> list[dict]:
        """The event log, oldest first."""
        return list(self._events)

    def files(self) -> list[dict]:
        """Files written by this source's runs: path relative to `source_dir`, and size in bytes."""
        if not self.source_dir.is_dir():
            return []
        return [{"path": path.relative_to(self.source_dir).as_posix(), "size": path.stat().st_size}
                for path in sorted(self.source_dir.rglob("*")) if path.is_file()]

    # ------------------------------------------------------------------------------------------------- worker
    def _run(self) -> None:
        """The worker thread: open the source, read it into the scheduler until the run ends, close the files."""
        try:
            pipeline = self._open()
            with self._cond:
                self._pipeline = pipeline
                if self._stop.is_set():
                    pipeline.close()
                    self._set_state(STOPPED, "stopped")
                    return
                self._set_state(RUNNING, "started", self.name)
            self._lane = Lane(self.id, self._process, self.camera.fps)
            self.scheduler.add(self._lane)
            try:
                self._read(pipeline)
            finally:
                self.scheduler.remove(self._lane, drain=not self._done.is_set())  # a finished recording's last frame
                pipeline.close()
            if self._failure is not None:
                raise self._failure
            with self._cond:
                self._set_state(STOPPED if self._stop.is_set() else FINISHED,
                                "stopped" if self._stop.is_set() else "finished", f"{pipeline.summary.frames} frames")
        except Exception as error:  # a failing source shows why on its page; the others go on
            if not isinstance(error, AutotrackError):
                logger.exception("source %s failed", self.id)
            with self._cond:
                self.error = one_line(error)
                self._set_state(FAILED, "failed", self.error)
        finally:
            self._pipeline = None

    def _read(self, pipeline: Pipeline) -> None:
        """Hand each frame of the source to the scheduler (it keeps the newest) until the source ends or the run
        does; wait while paused."""
        for frame in pipeline.source:
            if self._done.is_set() or not self._wait_while_paused():
                return
            self.scheduler.put(self._lane, frame)

    def _process(self, frame: Frame) -> None:
        """Run one frame through the session and publish it (on the compute thread); a failure ends the run."""
        pipeline = self._pipeline
        if self._done.is_set() or pipeline is None:
            return
        try:
            self._publish(pipeline.step(frame))
        except Exception as error:
            self._failure = error
            self._end()
            return
        if pipeline.done:
            self._end()

    def _end(self) -> None:
        """End the run: the worker thread stops reading (a stream's reader is woken) and closes the files."""
        self._done.set()
        pipeline = self._pipeline
        if pipeline is not None and isinstance(pipeline.source, LiveSource):
            pipeline.source.close()  # wakes a worker waiting for the next frame of a stream

    def _open(self) -> Pipeline:
        """A new session on the process's models for the camera's config (loaded by the first source that needed
        them), then the source with the live policy, writing into the run's folder."""
        options, camera = self.options, self.camera
        config = camera.config(options.pipeline, options.overrides)
        models = self.models.get(config)
        spec = camera.source()
        if is_live(spec):  # opened by the session, once its engine state is built
            source, live = spec, {"policy": "latest", "reconnect": options.reconnect}
        else:
            source, live = RealTimeSource(open_source(spec)), None
        outputs = Outputs(**{kind: self.folder / name for kind, name in OUTPUT_FILES.items() if kind in camera.outputs})
        return new_session(models, config, source, (), options.prompts, options.max_frames, live, outputs)

    def _new_run(self) -> None:
        """Forget the previous run (its IDs start again at 1) and choose the new run's folder."""
        self.error = None
        self.last_frame = None
        self.folder = self._next_folder()
        self._ids, self._first_seen, self._rows, self._lost = set(), {}, {}, OrderedDict()
        self._renamed, self._gallery, self._thumbnails = {}, [], {}
        self._annotator = FrameAnnotator()  # one per run: it keeps the motion traces

    def _wait_while_paused(self) -> bool:
        """Block while paused (a recording then resumes where it was); False when the run should stop."""
        with self._cond:
            if self.state != PAUSED:
                return not self._stop.is_set()
            while self.state == PAUSED and not self._stop.is_set():
                self._cond.wait()
        if isinstance(self._pipeline.source, RealTimeSource):
            self._pipeline.source.resync()
        return not self._stop.is_set()

    def _publish(self, result: FrameResult) -> None:
        """Keep and publish one frame: annotated JPEG, object rows, events, counters."""
        index = result.frame_index
        summary = self._pipeline.summary
        events = identity_events(result)
        for event in result.events:
            if event.kind in NEW_ID:  # a revived object is listed live again; a relabelled one keeps its age
                replaced = self._renamed.pop(event.tracker_id, None)
                self._first_seen[event.tracker_id] = self._first_seen.get(replaced, index)
                self._lost.pop(event.tracker_id, None)
            elif event.kind in (EventKind.LOST, EventKind.REMOVED):
                self._retire(event.tracker_id, keep=event.kind == EventKind.LOST)
        rows = object_rows(result, self._first_seen)
        for gone in set(self._rows) - {row["id"] for row in rows} - set(self._lost):  # merged into another, split
            self._retire(gone, keep=False)
        self._rows = {row["id"]: row for row in rows}
        self._ids.update(self._rows)
        self._update_gallery(result)
        height, width = result.frame.shape[:2]
        message = {
            "type": FRAME, "source": self.id, "frame": index, "timestamp": round(result.timestamp, 3),
            "width": width, "height": height, "state": self.state,
            "objects": rows + list(reversed(self._lost.values())),
            "events": events,
            "stats": {"frames": summary.frames, "fps": round(summary.fps, 2),
                      "input_fps": None if summary.input_fps is None else round(summary.input_fps, 2),
                      "dropped": summary.dropped + self._lane.skipped, "reconnects": summary.reconnects,
                      "objects": summary.objects, "latency_ms": round(self._latency() * 1000, 1)},
        }
        jpeg = encode_jpeg(self._annotator(result.frame, result.detections), self.options.max_width)
        self.last_frame, self.jpeg = message, jpeg
        self._events.extend(events)
        self._send(events, {row["id"]: row["class"] for row in message["objects"]})
        self.channel.publish(message, jpeg)

    def _send(self, rows: list[dict], classes: dict[int, str]) -> None:
        """Queue event rows for the broker and the webhooks (each sends the kinds it publishes)."""
        for outlet in (self.mqtt, self.webhooks):
            if outlet is not None:
                outlet.publish(rows, classes)

    def _update_gallery(self, result: FrameResult) -> None:
        """Keep re-identification's gallery as of this frame, and a thumbnail of each object that added to its
        gallery on it (the compute thread writes them, the web requests read them)."""
        reid = self._pipeline.identity.reid
        if reid is None:
            return
        entries = sorted(reid.entries(), key=lambda entry: -entry.last_seen)
        detections = result.detections
        boxes = dict(zip(detections.tracker_id.tolist(), detections.xyxy)) if detections.tracker_id is not None else {}
        classes = {row["id"]: row["class"] for row in self._gallery}  # a retired object's class, from its rows
        thumbnails = {}
        for entry in entries:
            seen_now = entry.last_seen == reid.frame - 1 and entry.tracker_id in boxes
            crop = _crop(result.frame, boxes[entry.tracker_id]) if seen_now else None
            thumbnails[entry.tracker_id] = crop if crop is not None else self._thumbnails.get(entry.tracker_id)
        self._thumbnails = {i: crop for i, crop in thumbnails.items() if crop is not None}
        self._gallery = [{
            "id": entry.tracker_id,
            "class": self._rows.get(entry.tracker_id, {}).get("class", classes.get(entry.tracker_id, "")),
            "status": self._rows[entry.tracker_id]["status"] if entry.tracker_id in self._rows else RETIRED,
            "last_seen": round(entry.seen_at, 3),
            "seconds_ago": round(result.timestamp - entry.seen_at, 3),
            "embeddings": entry.embeddings,
            "revived": entry.revived_on is not None,
            "thumbnail": entry.tracker_id in self._thumbnails,
        } for entry in entries]

    def _gallery_entry(self, object_id: int) -> dict:
        entry = next((row for row in self._gallery if row["id"] == object_id), None)
        if entry is None:
            raise NotFound(f"no object {object_id} in the gallery of source {self.id}")
        return entry

    def _reid_pipeline(self) -> Pipeline:
        pipeline = self._running_pipeline()
        if pipeline.identity.reid is None:
            raise Conflict(f"re-identification is off for source {self.id} (reid.enabled)")
        return pipeline

    def _latency(self) -> float:
        """Seconds from this frame's arrival until now (its processing is done but for publishing)."""
        return time.monotonic() - self._lane.arrival

    def _retire(self, object_id: int, keep: bool) -> None:
        """Forget a lost or removed object; a lost one stays listed with status "lost" for a while."""
        self._ids.discard(object_id)
        self._first_seen.pop(object_id, None)
        row = self._rows.get(object_id)
        if keep and row is not None:
            self._lost[object_id] = {**row, "status": LOST, "outline": []}
            while len(self._lost) > KEEP_LOST:
                self._lost.popitem(last=False)

    def _set_state(self, state: str, kind: str, reason: str = "") -> None:
        """Change the state (hold `_cond`), log it and tell the clients."""
        self.state = state
        self._log(event_row(kind, self._frame(), reason=reason))
        if self.mqtt is not None and state in (RUNNING, STOPPED, FINISHED, FAILED):
            self.mqtt.status(state == RUNNING)

    def _log(self, row: dict) -> None:
        """Add a line to the event log and send it, with the source's state, to the clients."""
        self._events.append(row)
        self.channel.publish({"type": "status", **self.info(), "events": [row]})

    def _frame(self) -> int | None:
        return self.last_frame["frame"] if self.last_frame else None

    def _running_pipeline(self) -> Pipeline:
        pipeline = self._pipeline
        if pipeline is None or self.state not in (RUNNING, PAUSED):
            raise Conflict(f"source {self.id} is {self.state}: start it first")
        return pipeline

    def _check_live(self, object_id: int) -> None:
        if object_id not in self._ids:
            raise NotFound(f"no live object {object_id} in source {self.id}")

    def _next_folder(self) -> Path:
        """run-1, run-2, ...: the first number not used in this source's folder (so no run overwrites another)."""
        used = [int(p.name[4:]) for p in self.source_dir.glob("run-*") if p.name[4:].isdigit()]
        return self.source_dir / f"run-{max(used, default=0) + 1}"


def _crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The frame inside a box, scaled down to at most THUMBNAIL pixels on its longer side; None for an empty box."""
    height, width = frame.shape[:2]
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
    if x1 <= x0 or y1 <= y0:
        return None
    crop = frame[y0:y1, x0:x1]
    scale = THUMBNAIL / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, (max(round(crop.shape[1] * scale), 1), max(round(crop.shape[0] * scale), 1)),
                          interpolation=cv2.INTER_AREA)
    return crop.copy()
