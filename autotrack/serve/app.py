"""The console's web app: two pages, and the HTTP/WebSocket API behind them.

The OpenAPI description is served at /openapi.json (browsable at /docs). The WebSocket is described in `API_DOC`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, model_validator

from autotrack import __version__
from autotrack.errors import AutotrackError, InputError, one_line
from autotrack.serve.cameras import Camera
from autotrack.serve.console import Console
from autotrack.serve.security import BodyLimit, TokenAuth
from autotrack.serve.source import ConsoleSource
from autotrack.serve.worker import Conflict, NotFound, source_slug
from autotrack.types import MAX_OBJECT_ID, Prompt

STATIC = Path(__file__).with_name("static")
MAX_CLIENTS = 16  # WebSocket clients per source
MAX_POINTS = 64

API_DOC = """
Follow live cameras and videos, prompt objects, and read the results. Coordinates are pixels of the source frame.

**WebSocket** `/api/sources/{id}/stream` (add `?images=false` for JSON only): first a `hello` message (the
source's state and its event log so far, in `events`), then one `frame` message per processed frame: `frame`
(index), `timestamp`, `width`, `height`, `state`, `objects` (each with `id`, `class`, `status` tracked | occluded
| lost, `affinity`, `occurrence`, `motion`, `age` in frames, `box` xyxy, `outline` polygons), `events` (`frame`,
`kind`, `id`, `reason`), `stats` (`frames`, `fps`, `input_fps`, `dropped`, `reconnects`, `objects`, `latency_ms`:
from the frame's arrival to its result) and `skipped`
(frames this client was too slow to take; their events come with the next frame). Unless `images=false`, each
frame message is followed by a binary message: the annotated frame as JPEG. A `status` message tells of state
changes (starting, running, paused, stopped, finished, failed with its `error`). The server takes no messages.

With a token (`--token` or `AUTOTRACK_TOKEN`), every request and WebSocket needs `Authorization: Bearer TOKEN` or
`?token=TOKEN`.
"""


# ------------------------------------------------------------------------------------------------------ models
class AddSource(BaseModel):
    """A source, and optionally how it runs (as a camera list's entry); with `--cameras` it is added to the list."""

    source: Annotated[str, Field(min_length=1, max_length=2048,
                                 description="Video file, image folder or glob, webcam index, or stream URL; "
                                             "${NAME} is read from the server's environment.")]
    name: str | None = Field(None, max_length=48, description="Its ID (default: from the source).")
    pipeline: str | None = Field(None, max_length=256, description="Its pipeline (default: the console's).")
    classes: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)] | None = None
    text: str | None = Field(None, max_length=2048, description="An open-vocabulary detector's classes.")
    fps: float | None = Field(None, gt=0, description="Target frames per second (default: as fast as it goes).")

    def to_source(self) -> str | Camera:
        """The plain source when nothing else is given, else a camera."""
        settings = self.model_dump(exclude={"source", "name"}, exclude_none=True)
        if self.name is None and not settings:
            return self.source
        return Camera(self.name or source_slug(self.source), self.source, **settings)


class Stats(BaseModel):
    frames: int
    fps: float
    input_fps: float | None
    dropped: int
    reconnects: int
    objects: int
    latency_ms: float = Field(description="From the frame's arrival to its result.")


class SourceInfo(BaseModel):
    id: str
    source: str
    state: Literal["starting", "running", "paused", "stopped", "finished", "failed"]
    error: str | None = Field(description="The one-line reason of a failed run.")
    detector: bool = Field(description="Whether the source's pipeline has a detector (whose classes can change).")
    run: str | None = Field(description="The current run's folder, under the source's files.")
    frame: int | None = Field(description="Index of the latest processed frame.")
    stats: Stats | None
    objects: int = Field(description="Live objects on the latest frame.")
    node: str | None = Field(None, description="With --ray: where the stream runs (node address, ID and process).")


class PromptRequest(BaseModel):
    """A box, points, or both; `id` re-prompts a live object, without it a new object starts."""

    id: Annotated[int, Field(ge=1, le=MAX_OBJECT_ID)] | None = None
    box: Annotated[list[float], Field(min_length=4, max_length=4)] | None = None
    points: Annotated[list[Annotated[list[float], Field(min_length=2, max_length=2)]],
                      Field(min_length=1, max_length=MAX_POINTS)] | None = None
    labels: Annotated[list[Literal[0, 1]], Field(max_length=MAX_POINTS)] | None = Field(
        None, description="1 positive, 0 negative, one per point; all positive when left out.")
    class_name: str = Field("", alias="class", max_length=64)

    @model_validator(mode="after")
    def _check(self) -> PromptRequest:
        if self.box is None and self.points is None:
            raise ValueError("give a box, points, or both")
        try:
            self.to_prompt()  # coordinates finite and within float32's range
        except InputError as error:
            raise ValueError(one_line(error)) from None
        if self.box is not None and (self.box[2] <= self.box[0] or self.box[3] <= self.box[1]):
            raise ValueError("box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
        if self.labels is not None and (self.points is None or len(self.labels) != len(self.points)):
            raise ValueError("one label per point")
        if self.points is not None and 1 not in (self.labels or [1]) and self.box is None:
            raise ValueError("points need at least one positive point (label 1) or a box")
        return self

    def to_prompt(self) -> Prompt:
        return Prompt(box=self.box, points=self.points, labels=self.labels)


class ObjectId(BaseModel):
    id: int


class Classes(BaseModel):
    classes: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)] | None = (
        Field(description="Detector classes (or text prompts) to follow; null follows every class."))


class GalleryObject(BaseModel):
    """An object re-identification remembers: live, or retired and still revivable."""

    id: int
    class_name: str = Field(alias="class")
    status: Literal["tracked", "occluded", "retired"]
    last_seen: float = Field(description="Timestamp (seconds) of the latest frame that added to its gallery.")
    seconds_ago: float = Field(description="Seconds from then to the latest frame.")
    embeddings: int = Field(description="Embeddings in its gallery.")
    revived: bool = Field(description="Whether it took its ID back (re-identified or merged): it can be split.")
    thumbnail: bool = Field(description="Whether `gallery/{id}.jpg` has its picture.")


class Merge(BaseModel):
    """Live object `merge` is object `keep` of the gallery (retired or occluded)."""

    keep: Annotated[int, Field(ge=1, le=MAX_OBJECT_ID)]
    merge: Annotated[int, Field(ge=1, le=MAX_OBJECT_ID)]


class FileEntry(BaseModel):
    path: str
    size: int


# ------------------------------------------------------------------------------------------------------ routes
router = APIRouter()


def _console(request: Request) -> Console:
    return request.app.state.console


def _worker(request: Request, source_id: str) -> ConsoleSource:
    return _console(request).get(source_id)


@router.get("/", include_in_schema=False)
def landing_page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/sources/{source_id}", include_in_schema=False)
def source_page(source_id: str) -> FileResponse:
    return FileResponse(STATIC / "source.html")


@router.get("/api/sources", tags=["sources"])
def list_sources(request: Request) -> list[SourceInfo]:
    """Every source of the console."""
    return [worker.info() for worker in _console(request).workers()]


@router.post("/api/sources", status_code=201, tags=["sources"])
def add_source(request: Request, body: AddSource) -> SourceInfo:
    """Start following a source; it opens in the background (a source that cannot be opened shows `failed`)."""
    return _console(request).add(body.to_source()).info()


@router.get("/api/sources/{source_id}", tags=["sources"])
def get_source(request: Request, source_id: str) -> SourceInfo:
    return _worker(request, source_id).info()


@router.delete("/api/sources/{source_id}", status_code=204, tags=["sources"])
def remove_source(request: Request, source_id: str) -> Response:
    """Stop a source and take it off the console; its files stay on disk."""
    _console(request).remove(source_id)
    return Response(status_code=204)


@router.post("/api/sources/{source_id}/objects", status_code=202, tags=["objects"])
def prompt_object(request: Request, source_id: str, body: PromptRequest) -> ObjectId:
    """Prompt a new object, or re-prompt a live one (`id`); applied to the next frame processed. Coordinates that
    are not finite numbers within float32's range, or lie far outside the frame, are refused (422)."""
    worker = _worker(request, source_id)
    try:
        object_id = worker.add_prompt(body.to_prompt(), body.id, body.class_name)
    except InputError as error:
        raise HTTPException(422, one_line(error)) from None
    return ObjectId(id=object_id)


@router.delete("/api/sources/{source_id}/objects/{object_id}", status_code=202, tags=["objects"])
def remove_object(request: Request, source_id: str, object_id: int) -> ObjectId:
    """Stop following an object from the next frame on; its ID is retired (a `removed` event)."""
    _worker(request, source_id).remove_object(object_id)
    return ObjectId(id=object_id)


@router.post("/api/sources/{source_id}/objects/{object_id}/split", status_code=202, tags=["objects"])
def split_object(request: Request, source_id: str, object_id: int) -> ObjectId:
    """Undo a wrong revival (or merge) of a live object: from the next frame on it carries the new ID returned,
    and `object_id` is again the retired object it was (a `split` event). With re-identification on."""
    return ObjectId(id=_worker(request, source_id).split(object_id))


@router.get("/api/sources/{source_id}/gallery", tags=["objects"])
def list_gallery(request: Request, source_id: str) -> list[GalleryObject]:
    """The objects re-identification remembers, most recently seen first (empty when it is off)."""
    return _worker(request, source_id).gallery()


@router.get("/api/sources/{source_id}/gallery/{object_id}.jpg", tags=["objects"],
            responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
def gallery_thumbnail(request: Request, source_id: str, object_id: int) -> Response:
    """A gallery object's picture: its box on the latest frame that added to its gallery."""
    jpeg = _worker(request, source_id).thumbnail(object_id)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.put("/api/sources/{source_id}/classes", tags=["objects"])
def set_classes(request: Request, source_id: str, body: Classes) -> Classes:
    """Change the detector's classes (or text prompts) mid-stream; live objects keep their IDs."""
    _worker(request, source_id).set_classes(body.classes)
    return body


@router.get("/api/sources/{source_id}/events", tags=["results"])
def list_events(request: Request, source_id: str) -> list[dict]:
    """The source's event log (the latest 500 lines), oldest first."""
    return _worker(request, source_id).events()


@router.get("/api/sources/{source_id}/frame.jpg", tags=["results"],
            responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
def latest_frame(request: Request, source_id: str) -> Response:
    """The latest annotated frame."""
    jpeg = _worker(request, source_id).jpeg
    if jpeg is None:
        raise NotFound(f"source {source_id} has no frame yet")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/api/sources/{source_id}/files", tags=["results"])
def list_files(request: Request, source_id: str) -> list[FileEntry]:
    """Files the source's runs wrote (`run-N/tracks.txt` MOT, `run-N/tracks.json` COCO), complete up to the latest
    frame."""
    return _worker(request, source_id).files()


@router.get("/api/sources/{source_id}/files/{path:path}", tags=["results"])
def download_file(request: Request, source_id: str, path: str) -> FileResponse:
    """Download one of the source's files; nothing outside the source's output folder is served."""
    return FileResponse(_console(request).file(source_id, path), filename=Path(path).name)


@router.post("/api/sources/{source_id}/merge", status_code=202, tags=["objects"])
def merge_objects(request: Request, source_id: str, body: Merge) -> ObjectId:
    """Live object `merge` is gallery object `keep` (re-identification missed the return): from the next frame on
    it carries ID `keep` (a `merged` event). `keep` must not be visible. With re-identification on."""
    _worker(request, source_id).merge(body.keep, body.merge)
    return ObjectId(id=body.keep)


# after the other POST routes of a source: its path would shadow theirs
@router.post("/api/sources/{source_id}/{action}", tags=["sources"])
def control_source(request: Request, source_id: str, action: Literal["start", "pause", "stop"]) -> SourceInfo:
    """`start` resumes a paused run or starts a new run (in a new folder); `pause` stops taking frames; `stop` ends
    the run with its files complete."""
    worker = _worker(request, source_id)
    getattr(worker, action)()
    return worker.info()


@router.websocket("/api/sources/{source_id}/stream")
async def stream(websocket: WebSocket, source_id: str, images: bool = True) -> None:
    """Per-frame results (and JPEG frames) of one source; see the API description."""
    try:
        worker = websocket.app.state.console.get(source_id)
    except NotFound:
        await websocket.close(code=1008, reason=f"no source {source_id!r}")
        return
    if len(worker.channel) >= MAX_CLIENTS:
        await websocket.close(code=1013, reason="too many clients for this source")
        return
    await websocket.accept()
    with worker.channel.subscribe() as subscription:
        await websocket.send_json({"type": "hello", **worker.info(), "events": worker.events()})
        if worker.last_frame is not None:
            subscription.put({**worker.last_frame, "events": []}, worker.jpeg)  # its events are in the hello
        sender = asyncio.create_task(_send(websocket, subscription, images))
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the API takes requests over HTTP; anything a client sends here is ignored
        finally:
            sender.cancel()


async def _send(websocket: WebSocket, subscription, images: bool) -> None:
    while True:
        message, jpeg = await subscription.get()
        if message["type"] == "frame":
            message = {**message, "skipped": subscription.skipped}
        await websocket.send_json(message)
        if images and jpeg is not None:
            await websocket.send_bytes(jpeg)


# ------------------------------------------------------------------------------------------------------ app
def _error_handler(status: int):
    async def handler(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status)

    return handler


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with each problem's place and reason, without the values given: a NaN or Infinity a client sent is no
    JSON, and FastAPI's own answer, which repeats it, would fail to render."""
    problems = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": problems}, 422)


def create_app(console: Console, token: str | None = None, sources: Iterable[str | Camera] = ()) -> FastAPI:
    """The ASGI app for a console: `sources` (specs or cameras) start when the server starts; every source stops
    when it stops.

    With a `token`, every request and WebSocket must carry it. Request bodies are bounded (`BodyLimit`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for spec in sources:
            console.add(spec)
        yield
        await asyncio.to_thread(console.close)

    app = FastAPI(title="autotrack console", version=__version__, description=API_DOC, lifespan=lifespan)
    app.state.console = console
    app.add_middleware(BodyLimit)
    if token:
        app.add_middleware(TokenAuth, token=token)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(NotFound, _error_handler(404))
    app.add_exception_handler(Conflict, _error_handler(409))
    app.add_exception_handler(AutotrackError, _error_handler(400))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    return app
