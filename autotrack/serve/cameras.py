"""A camera list (`autotrack serve --cameras cameras.yaml`): the sources a console starts with, and keeps.

    cameras:
      - name: gate                                   # the source's ID in URLs and folder names
        url: rtsp://${AUTOTRACK_CAMERA_USER}:${AUTOTRACK_CAMERA_PASSWORD}@192.168.1.10/stream
        pipeline: yolo-sam2                          # optional: the console's pipeline otherwise
        classes: [person, car]                       # optional: a closed-set detector's classes
        fps: 5                                       # optional: target rate (default: as fast as it goes)
        outputs: [mot, json]                         # optional: what each run writes (mot, json, video)
        retention: {max_age: 7d, max_size: 2GB}      # optional: delete the oldest outputs beyond these
        webhooks: [https://hooks.example.com/gate]   # optional: POST its events there (as well as --webhook's)
      - name: yard
        url: rtsp://192.168.1.11/stream
        text: forklift, person in a hard hat         # optional: an open-vocabulary detector's classes

The list is checked in full, with one-line errors, before any model loads. Credentials stay in the environment:
`${NAME}` in a url is read from it as the source opens, for names that start with `AUTOTRACK_CAMERA_` only (so a
url added from the API cannot send the server's other variables anywhere); the file keeps `${NAME}` as written,
and the console shows urls without their user and password. Changes made
from the API are written back atomically (a temporary file, then a rename), so the file is never half written.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from autotrack.config import PipelineConfig, from_dict, load_config
from autotrack.errors import AutotrackError, InputError, one_line
from autotrack.serve.retention import Retention
from autotrack.serve.webhooks import check_webhook

OUTPUTS = ("mot", "json", "video")
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,47}")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PREFIX = "AUTOTRACK_CAMERA_"  # the only variables a url may read


class CameraError(InputError):
    """A camera list or camera that cannot be used; the message says which and why."""


@dataclass
class Camera:
    """One camera: see the module's example for each field."""

    name: str
    url: str
    pipeline: str | None = None
    classes: list[str] | None = None
    text: str | list[str] | None = None
    fps: float | None = None
    outputs: list[str] = field(default_factory=lambda: ["mot", "json"])
    retention: dict[str, str | int | float] | None = None
    webhooks: list[str] | None = None

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise CameraError(f"{where}: a name is 1-48 letters, digits, '_', '.' or '-', not starting with '.' "
                              f"or '-'")
        if not isinstance(self.url, str) or not self.url.strip():
            raise CameraError(f"{where}: give its url")
        if self.fps is not None and (isinstance(self.fps, bool) or not isinstance(self.fps, (int, float))
                                     or self.fps <= 0):
            raise CameraError(f"{where}: fps must be a positive number, got {self.fps!r}")
        if not isinstance(self.outputs, list) or any(output not in OUTPUTS for output in self.outputs):
            raise CameraError(f"{where}: outputs are a list of {', '.join(OUTPUTS)}; got {self.outputs!r}")
        try:
            self.retention_rule()
            if self.webhooks is not None and not isinstance(self.webhooks, list):
                raise InputError(f"webhooks are a list of urls, got {self.webhooks!r}")
            for url in self.webhooks or []:
                check_webhook(url, "webhooks")
        except InputError as error:
            raise CameraError(f"{where}: {one_line(error)}") from None

    def retention_rule(self) -> Retention | None:
        """The camera's `retention`, parsed (None: its outputs are kept)."""
        return None if self.retention is None else Retention.parse(self.retention, "retention")

    def source(self) -> str:
        """The url with each `${NAME}` replaced from the environment (a one-line error names a missing one, or
        one not named `AUTOTRACK_CAMERA_*`)."""
        def value(match: re.Match) -> str:
            name = match.group(1)
            if not name.startswith(PREFIX):
                raise CameraError(f"camera {self.name!r}: a url reads only variables named {PREFIX}*, not {name}")
            if name not in os.environ:
                raise CameraError(f"camera {self.name!r}: environment variable {name} is not set")
            return os.environ[name]

        return VARIABLE.sub(value, self.url)

    def config(self, pipeline: str | PipelineConfig, overrides: dict[str, object]) -> PipelineConfig:
        """This camera's pipeline: its own (with the console's `overrides`) or the console's `pipeline`, with its
        classes or text."""
        where = f"camera {self.name!r}"
        base = load_config(self.pipeline or pipeline, overrides) if self.pipeline or isinstance(pipeline, str) \
            else pipeline
        if self.classes is None and self.text is None:
            return base
        data = asdict(base)
        if data["detector"] is None:
            raise CameraError(f"{where}: pipeline {base.name} has no detector for its classes or text")
        data["detector"].update({key: value for key, value in (("classes", self.classes), ("text", self.text))
                                 if value is not None})
        return from_dict(data, where=where)


def read_cameras(path: Path) -> list[Camera]:
    """The cameras of a list file, each checked (names unique, urls' variables set); one-line errors."""
    if not path.is_file():
        raise CameraError(f"camera list not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CameraError(f"camera list {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list) or set(data) != {"cameras"}:
        raise CameraError(f"camera list {path} must be a mapping with one key, cameras: a list of cameras")
    cameras = [_camera(entry, f"{path}: camera {i + 1}") for i, entry in enumerate(data["cameras"])]
    names = [camera.name for camera in cameras]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CameraError(f"camera list {path}: names must be unique; {', '.join(duplicates)} appear twice")
    for camera in cameras:
        camera.source()
    return cameras


def check_cameras(cameras: list[Camera], pipeline: str | PipelineConfig, overrides: dict[str, object]) -> None:
    """Fail in one line, before any model loads, when a camera's pipeline, classes, input size or weights are
    wrong."""
    from autotrack.models import check_imgsz
    from autotrack.pipeline import check_weights

    for camera in cameras:
        config = camera.config(pipeline, overrides)
        try:
            check_imgsz(config.sam.model, config.sam.imgsz)
            check_weights(config)
        except AutotrackError as error:
            raise CameraError(f"camera {camera.name!r}: {one_line(error)}") from error


def write_cameras(path: Path, cameras: list[Camera]) -> None:
    """Write the list atomically: a temporary file beside it (the file's permissions, else owner-only), then a
    rename over it. Fields left at their defaults are left out."""
    defaults = Camera("x", "x")
    entries = [{key: value for key, value in asdict(camera).items()
                if key in ("name", "url") or value != getattr(defaults, key)} for camera in cameras]
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            yaml.safe_dump({"cameras": entries}, file, sort_keys=False, allow_unicode=True)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _camera(entry: object, where: str) -> Camera:
    """A camera from one entry of the list."""
    known = [f.name for f in fields(Camera)]
    if not isinstance(entry, dict):
        raise CameraError(f"{where} must be a mapping with name and url")
    unknown = sorted(set(entry) - set(known))
    if unknown:
        raise CameraError(f"{where}: unknown key {unknown[0]!r}; a camera has {', '.join(known)}")
    if "name" not in entry or "url" not in entry:
        raise CameraError(f"{where} needs a name and a url")
    if isinstance(entry.get("classes"), str):
        entry = {**entry, "classes": [name.strip() for name in entry["classes"].split(",") if name.strip()]}
    return Camera(**{key: str(value) if key in ("name", "url") else value for key, value in entry.items()})
