"""User prompts: boxes and clicks with the user's own object IDs, and example boxes for an open-vocabulary
detector, from a JSON file or the command line.

The prompts file is JSON, frames 0-based and coordinates in pixels of the source frame; `labels` (1 positive,
0 negative) default to positive and `class` is optional. `objects` are followed under their IDs; each `like` entry
is an example: the detector finds every object that looks like what its box holds (either list may be left out):
    {"objects": [{"id": 1, "frame": 0, "box": [x1, y1, x2, y2]},
                 {"id": 2, "frame": 5, "points": [[x, y], [x, y]], "labels": [1, 0], "class": "cup"}],
     "like": [{"frame": 0, "box": [x1, y1, x2, y2], "class": "forklift"}]}
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotrack.errors import AutotrackError
from autotrack.types import FLOAT32_MAX, Prompt, check_object_id


class PromptsError(AutotrackError, ValueError):
    """A prompts file or option is malformed; the message says where."""


@dataclass
class UserPrompt:
    """One user prompt: the object's ID, the frame it applies to, the prompt, an optional class name, and where it
    was given (`prompts.json: objects[2]`, `--box '1,2,3,4'`) for error messages."""

    object_id: int
    frame: int
    prompt: Prompt
    class_name: str = ""
    where: str = ""


@dataclass
class Example:
    """A box around an example object on one frame (`--like`): an open-vocabulary detector finds every object that
    looks like it, under `class_name` ("object" when empty)."""

    box: np.ndarray
    frame: int = 0
    class_name: str = ""
    where: str = ""

    def check_inside(self, width: int, height: int) -> None:
        """Refuse a box that does not lie inside a width x height frame."""
        x1, y1, x2, y2 = (float(v) for v in self.box)
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise PromptsError(f"{self.where or 'example'}: box {_fmt(self.box)} lies outside the {width}x{height} "
                               f"frame")


class ManualPrompts:
    """User prompts grouped by frame (`at(frame_index)` lists the ones for that frame), examples, and the prompts
    file they came from (`path`, or None).

    Raises `PromptsError` when one object ID is prompted twice on the same frame.
    """

    def __init__(self, prompts: list[UserPrompt], examples: list[Example] = (), path: Path | None = None) -> None:
        self.path = path  # the prompts file they were read from (None for options or code), an input of the run
        self._by_frame: dict[int, list[UserPrompt]] = defaultdict(list)
        for prompt in prompts:
            check_object_id(prompt.object_id, prompt.where or "prompt")
            twin = next((p for p in self._by_frame[prompt.frame] if p.object_id == prompt.object_id), None)
            if twin is not None:
                raise PromptsError(f"{prompt.where or 'prompt'}: object {prompt.object_id} is already prompted on "
                                   f"frame {prompt.frame} by {twin.where or 'another prompt'}")
            self._by_frame[prompt.frame].append(prompt)
        self.examples = sorted(examples, key=lambda e: e.frame)

    def at(self, frame_index: int) -> list[UserPrompt]:
        return self._by_frame.get(frame_index, [])

    def between(self, start: int, stop: int) -> list[UserPrompt]:
        """The prompts for frames start..stop-1, in frame order (for a stream that skipped frames)."""
        return [p for frame in sorted(self._by_frame) if start <= frame < stop for p in self._by_frame[frame]]

    def examples_between(self, start: int, stop: int) -> list[Example]:
        """The examples for frames start..stop-1, in frame order."""
        return [e for e in self.examples if start <= e.frame < stop]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_frame.values())

    def check(self, size: tuple[int, int] | None, total: int | None) -> None:
        """Check the prompts against the source once it is open: `size` (width, height) of its frames and `total`
        frames (None when unknown, as for a live stream). Each failure names the prompt.

        A box must overlap the frame and points must lie inside it; an example's box must lie inside it; a prompt's
        or an example's frame must exist.
        """
        for example in self.examples:
            if total is not None and example.frame >= total:
                raise PromptsError(f"{example.where}: frame {example.frame} is beyond the end of the input "
                                   f"({total} frames, numbered from 0)")
            if size is not None:
                example.check_inside(*size)
        for prompts in self._by_frame.values():
            for user in prompts:
                where = user.where or f"object {user.object_id}"
                if total is not None and user.frame >= total:
                    raise PromptsError(f"{where}: frame {user.frame} is beyond the end of the input "
                                       f"({total} frames, numbered from 0)")
                if size is None:
                    continue
                width, height = size
                user.prompt.check_frame(width, height, where)
                box, points = user.prompt.box, user.prompt.points
                if box is not None and (box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height):
                    raise PromptsError(f"{where}: box {_fmt(box)} lies outside the {width}x{height} frame")
                if points is not None:
                    outside = (points[:, 0] < 0) | (points[:, 1] < 0) | (points[:, 0] >= width) | (
                        points[:, 1] >= height)
                    if outside.any():
                        raise PromptsError(f"{where}: point {_fmt(points[outside][0])} lies outside the "
                                           f"{width}x{height} frame")

    @classmethod
    def from_json(cls, path: str | Path) -> ManualPrompts:
        """Read a prompts file (format in the module docstring)."""
        path = Path(path)
        if not path.is_file():
            raise PromptsError(f"prompts file not found: {path}")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise PromptsError(f"prompts file {path} is not valid JSON: {error}") from error
        if not isinstance(data, dict) or not (data.get("objects") or data.get("like")):
            raise PromptsError(f'prompts file {path} needs a non-empty "objects" or "like" list')
        objects, like = data.get("objects") or [], data.get("like") or []
        if not isinstance(objects, list) or not isinstance(like, list):
            raise PromptsError(f'prompts file {path}: "objects" and "like" must be lists')
        return cls([_parse_object(item, f"{path}: objects[{i}]") for i, item in enumerate(objects)],
                   [_parse_example(item, f"{path}: like[{i}]") for i, item in enumerate(like)], path)

    @classmethod
    def from_options(cls, boxes: list[str] = (), points: list[str] = (), frame: int = 0,
                     classes: list[str] = (), like: list[str] = ()) -> ManualPrompts:
        """From CLI options: each box "x1,y1,x2,y2" and each points string "x,y;x,y" is one object (IDs 1, 2, ...,
        boxes first). A point may carry a label as "x,y,0" (negative); points default to positive. Each `like`
        "x1,y1,x2,y2[@FRAME]" is an example box, on frame FRAME (default `frame`).

        `classes` name the objects in the same order; a single class names them all.
        """
        items = []
        for text in boxes:
            items.append(({"box": _numbers(text, f"--box {text!r}")}, f"--box {text!r}"))
        for text in points:
            xy, labels = [], []
            for part in text.split(";"):
                values = _numbers(part, f"--points {text!r}")
                if len(values) not in (2, 3):
                    raise PromptsError(f"--points {text!r}: expected x,y or x,y,label separated by ';'")
                xy.append(values[:2])
                labels.append(values[2] if len(values) == 3 else 1)
            items.append(({"points": xy, "labels": labels}, f"--points {text!r}"))
        if len(classes) not in (0, 1, len(items)):
            raise PromptsError(f"--class given {len(classes)} times for {len(items)} objects: give one class for "
                               "all, or one per --box/--points in order")
        prompts = []
        for index, (item, where) in enumerate(items):
            item.update(id=index + 1, frame=frame)
            if classes:
                item["class"] = classes[index if len(classes) > 1 else 0]
            prompts.append(_parse_object(item, where))
        examples = []
        for text in like:
            box_text, _, frame_text = text.partition("@")
            if frame_text and not frame_text.strip().isdigit():
                raise PromptsError(f"--like {text!r}: expected x1,y1,x2,y2 or x1,y1,x2,y2@FRAME")
            item = {"box": _numbers(box_text, f"--like {text!r}"), "frame": int(frame_text or frame)}
            examples.append(_parse_example(item, f"--like {text!r}"))
        return cls(prompts, examples)


def _fmt(values) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in values) + "]"


def _numbers(text: str, where: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise PromptsError(f"{where}: not a list of numbers") from None


def _field(where: str, key: str) -> str:
    """Where a field of a prompt is: `prompts.json: objects[2].box`; a command-line option names itself."""
    return where if where.startswith("--") else f"{where}.{key}"


def _finite_numbers(value: object) -> bool:
    """A coordinate: a finite number float32 holds (1e39 is not one: the models compute in float32)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and abs(value) <= FLOAT32_MAX)


def _parse_object(item: object, where: str) -> UserPrompt:
    if not isinstance(item, dict):
        raise PromptsError(f"{where}: expected an object with id, frame and box or points")
    unknown = set(item) - {"id", "frame", "box", "points", "labels", "class"}
    if unknown:
        raise PromptsError(f"{where}: unknown keys {sorted(unknown)}")
    object_id, frame = item.get("id"), item.get("frame", 0)
    check_object_id(object_id, _field(where, "id"))
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise PromptsError(f"{where}: 'frame' must be a non-negative integer")
    if "box" not in item and "points" not in item:
        raise PromptsError(f"{where}: needs 'box' or 'points'")
    box, points, labels = item.get("box"), item.get("points"), item.get("labels")
    if box is not None:
        _check_box(box, where)
    if points is not None:
        if (not isinstance(points, list) or not points
                or not all(isinstance(p, list) and len(p) == 2 and all(_finite_numbers(v) for v in p)
                           for p in points)):
            raise PromptsError(f"{_field(where, 'points')}: expected a list of [x, y] pairs of finite numbers "
                               "within float32's range")
        if labels is not None:
            if not isinstance(labels, list) or len(labels) != len(points):
                raise PromptsError(f"{_field(where, 'labels')}: expected one label per point ({len(points)})")
            if any(label not in (0, 1) or isinstance(label, bool) for label in labels):
                raise PromptsError(f"{_field(where, 'labels')}: each label is 1 (on the object) or 0 (not), "
                                   f"got {labels!r}")
            if 1 not in labels and box is None:
                raise PromptsError(f"{_field(where, 'labels')}: needs at least one positive point (label 1)")
    name = item.get("class", "")
    if not isinstance(name, str):
        raise PromptsError(f"{_field(where, 'class')}: expected a name, got {name!r}")
    prompt = Prompt(box=box, points=points, labels=labels)
    return UserPrompt(object_id, frame, prompt, name.strip(), where)


def _parse_example(item: object, where: str) -> Example:
    if not isinstance(item, dict):
        raise PromptsError(f"{where}: expected an object with frame, box and class")
    unknown = set(item) - {"frame", "box", "class"}
    if unknown:
        raise PromptsError(f"{where}: unknown keys {sorted(unknown)}")
    frame, box, name = item.get("frame", 0), item.get("box"), item.get("class", "")
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise PromptsError(f"{where}: 'frame' must be a non-negative integer")
    _check_box(box, where)
    if not isinstance(name, str):
        raise PromptsError(f"{_field(where, 'class')}: expected a name, got {name!r}")
    return Example(np.asarray(box, dtype=np.float32), frame, name.strip(), where)


def _check_box(box: object, where: str) -> None:
    if not isinstance(box, list) or len(box) != 4 or not all(_finite_numbers(v) for v in box):
        raise PromptsError(f"{_field(where, 'box')}: expected [x1, y1, x2, y2], four finite numbers within "
                           f"float32's range, got {box!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise PromptsError(f"{_field(where, 'box')}: needs x2 > x1 and y2 > y1 (an area), got {box!r}")
