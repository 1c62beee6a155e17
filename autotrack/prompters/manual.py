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
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotrack.errors import AutotrackError
from autotrack.types import Prompt


class PromptsError(AutotrackError, ValueError):
    """A prompts file or option is malformed; the message says where."""


@dataclass
class UserPrompt:
    """One user prompt: the object's ID, the frame it applies to, the prompt, and an optional class name."""

    object_id: int
    frame: int
    prompt: Prompt
    class_name: str = ""


@dataclass
class Example:
    """A box around an example object on one frame (`--like`): an open-vocabulary detector finds every object that
    looks like it, under `class_name` ("object" when empty)."""

    box: np.ndarray
    frame: int = 0
    class_name: str = ""

    def check_inside(self, width: int, height: int) -> None:
        """Refuse a box that does not lie inside a width x height frame."""
        x1, y1, x2, y2 = (float(v) for v in self.box)
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise PromptsError(f"--like box {[x1, y1, x2, y2]} (frame {self.frame}) lies outside the "
                               f"{width}x{height} frame")


class ManualPrompts:
    """User prompts and examples grouped by frame: `at(frame_index)` lists the prompts for that frame."""

    def __init__(self, prompts: list[UserPrompt], examples: list[Example] = ()) -> None:
        self._by_frame: dict[int, list[UserPrompt]] = defaultdict(list)
        for prompt in prompts:
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

    def check_inside(self, width: int, height: int) -> None:
        """Refuse examples whose box does not lie inside a width x height frame (before a run starts)."""
        for example in self.examples:
            example.check_inside(width, height)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_frame.values())

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
                   [_parse_example(item, f"{path}: like[{i}]") for i, item in enumerate(like)])

    @classmethod
    def from_options(cls, boxes: list[str] = (), points: list[str] = (), frame: int = 0,
                     like: list[str] = ()) -> ManualPrompts:
        """From CLI options: each box "x1,y1,x2,y2" and each points string "x,y;x,y" is one object (IDs 1, 2, ...);
        each `like` "x1,y1,x2,y2[@FRAME]" is an example box (on frame FRAME, default `frame`).

        A point may carry a label as "x,y,0" (negative); points default to positive.
        """
        prompts = []
        for text in boxes:
            box = _numbers(text, f"--box {text!r}")
            if len(box) != 4:
                raise PromptsError(f"--box {text!r}: expected x1,y1,x2,y2")
            prompts.append(_parse_object({"id": len(prompts) + 1, "frame": frame, "box": box}, f"--box {text!r}"))
        for text in points:
            xy, labels = [], []
            for part in text.split(";"):
                values = _numbers(part, f"--points {text!r}")
                if len(values) not in (2, 3):
                    raise PromptsError(f"--points {text!r}: expected x,y or x,y,label separated by ';'")
                xy.append(values[:2])
                labels.append(int(values[2]) if len(values) == 3 else 1)
            item = {"id": len(prompts) + 1, "frame": frame, "points": xy, "labels": labels}
            prompts.append(_parse_object(item, f"--points {text!r}"))
        examples = []
        for text in like:
            box_text, _, frame_text = text.partition("@")
            if frame_text and not frame_text.strip().isdigit():
                raise PromptsError(f"--like {text!r}: expected x1,y1,x2,y2 or x1,y1,x2,y2@FRAME")
            item = {"box": _numbers(box_text, f"--like {text!r}"), "frame": int(frame_text or frame)}
            examples.append(_parse_example(item, f"--like {text!r}"))
        return cls(prompts, examples)


def _numbers(text: str, where: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise PromptsError(f"{where}: not a list of numbers") from None


def _parse_object(item: object, where: str) -> UserPrompt:
    if not isinstance(item, dict):
        raise PromptsError(f"{where}: expected an object with id, frame and box or points")
    unknown = set(item) - {"id", "frame", "box", "points", "labels", "class"}
    if unknown:
        raise PromptsError(f"{where}: unknown keys {sorted(unknown)}")
    object_id, frame = item.get("id"), item.get("frame", 0)
    if not isinstance(object_id, int) or object_id < 1:
        raise PromptsError(f"{where}: 'id' must be a positive integer")
    if not isinstance(frame, int) or frame < 0:
        raise PromptsError(f"{where}: 'frame' must be a non-negative integer")
    if "box" not in item and "points" not in item:
        raise PromptsError(f"{where}: needs 'box' or 'points'")
    try:
        prompt = Prompt(box=item.get("box"), points=item.get("points"), labels=item.get("labels"))
    except (ValueError, TypeError) as error:
        raise PromptsError(f"{where}: {error}") from None
    if prompt.box is not None:
        _check_box(prompt.box, where)
    return UserPrompt(object_id, frame, prompt, str(item.get("class", "")))


def _parse_example(item: object, where: str) -> Example:
    if not isinstance(item, dict):
        raise PromptsError(f"{where}: expected an object with frame, box and class")
    unknown = set(item) - {"frame", "box", "class"}
    if unknown:
        raise PromptsError(f"{where}: unknown keys {sorted(unknown)}")
    frame = item.get("frame", 0)
    if not isinstance(frame, int) or frame < 0:
        raise PromptsError(f"{where}: 'frame' must be a non-negative integer")
    try:
        box = np.asarray(item.get("box"), dtype=np.float32).reshape(4)
    except (ValueError, TypeError):
        raise PromptsError(f"{where}: 'box' must be [x1, y1, x2, y2]") from None
    _check_box(box, where)
    return Example(box, frame, str(item.get("class", "")))


def _check_box(box: np.ndarray, where: str) -> None:
    if not (box[2] > box[0] and box[3] > box[1]):
        raise PromptsError(f"{where}: box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1 (a box of zero area "
                           f"holds nothing)")
