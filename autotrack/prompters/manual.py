"""User prompts: boxes and clicks with the user's own object IDs, from a JSON file or the command line.

The prompts file is JSON, frames 0-based and coordinates in pixels of the source frame; `labels` (1 positive,
0 negative) default to positive and `class` is optional:
    {"objects": [{"id": 1, "frame": 0, "box": [x1, y1, x2, y2]},
                 {"id": 2, "frame": 5, "points": [[x, y], [x, y]], "labels": [1, 0], "class": "cup"}]}
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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


class ManualPrompts:
    """User prompts grouped by frame: `at(frame_index)` lists the ones for that frame."""

    def __init__(self, prompts: list[UserPrompt]) -> None:
        self._by_frame: dict[int, list[UserPrompt]] = defaultdict(list)
        for prompt in prompts:
            self._by_frame[prompt.frame].append(prompt)

    def at(self, frame_index: int) -> list[UserPrompt]:
        return self._by_frame.get(frame_index, [])

    def between(self, start: int, stop: int) -> list[UserPrompt]:
        """The prompts for frames start..stop-1, in frame order (for a stream that skipped frames)."""
        return [p for frame in sorted(self._by_frame) if start <= frame < stop for p in self._by_frame[frame]]

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
        objects = data.get("objects") if isinstance(data, dict) else None
        if not isinstance(objects, list) or not objects:
            raise PromptsError(f'prompts file {path} needs a non-empty "objects" list')
        return cls([_parse_object(item, f"{path}: objects[{i}]") for i, item in enumerate(objects)])

    @classmethod
    def from_options(cls, boxes: list[str] = (), points: list[str] = (), frame: int = 0) -> ManualPrompts:
        """From CLI options: each box "x1,y1,x2,y2" and each points string "x,y;x,y" is one object (IDs 1, 2, ...).

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
        return cls(prompts)


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
    if prompt.box is not None and (prompt.box[2] <= prompt.box[0] or prompt.box[3] <= prompt.box[1]):
        raise PromptsError(f"{where}: box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
    return UserPrompt(object_id, frame, prompt, str(item.get("class", "")))
