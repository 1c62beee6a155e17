"""Test doubles shared by the test suite: a scripted stand-in for the SAM2 engine, a stub open-vocabulary detector
and detection helpers.

`ScriptedEngine` has the engine's interface (`autotrack.types.Tracker`) and plays a scripted *world*: named
objects, each with one ground-truth xyxy box per frame (None while hidden, and after its list ends). A prompt binds
an engine object to the world object it points at (best box IoU with a box or mask prompt, most positive points
inside for a point prompt), as SAM2 segments what it is shown. From then on the object reports that world object's
box as a rectangular mask with good scores, low occurrence and an empty mask while the world object hides, unless a
scripted `Fault` makes it misbehave: drift away, follow a distractor (a swap), report other scores, or predict
another motion. A prompt to an object cancels its faults, as a re-prompt repairs a real SAM2 track. Each object's
`next_box` comes from the engine's own motion model (`MotionScorer`) fed with the reported boxes and affinities, as
the engine feeds it (one candidate per frame), unless a fault scripts it. The engine records every prompt and removal,
so a test can assert exactly what it was asked to do. Given `looks` (world object -> appearance vector), every
visible object also reports the look of what it shows as its embedding (unit length, with optional noise), and
objects can be renamed, as re-identification needs.

```python
world = {"car": moving_box((10, 10, 50, 50), 60, velocity=(3, 0), hidden=range(20, 40))}
engine = ScriptedEngine(world, faults=[Fault("car", start=5, end=9, affinity=0.2)])
states = engine.step(frame, {1: Prompt(box=(10, 10, 50, 50))})  # frame 0: object 1 binds to "car"
```
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import supervision as sv
import torch

from autotrack.engine.scoring import MotionScorer
from autotrack.motion import mask_to_box
from autotrack.prompters.base import Prompter
from autotrack.types import ObjectState, Prompt, Tracker

World = dict[str, list[np.ndarray | None]]
"""Per world object name: its xyxy box on each frame, None while hidden."""

HIDDEN_AFFINITY = 0.1
HIDDEN_OCCURRENCE = 0.05


def moving_box(box: tuple[float, float, float, float], num_frames: int, velocity: tuple[float, float] = (0.0, 0.0),
               hidden: range | tuple[int, ...] = ()) -> list[np.ndarray | None]:
    """Boxes of an object moving at constant velocity (pixels per frame), None on the `hidden` frames."""
    start = np.asarray(box, dtype=np.float32)
    step = np.array([*velocity, *velocity], dtype=np.float32)
    return [None if f in hidden else start + f * step for f in range(num_frames)]


def make_detections(boxes: list, confidence: float | list[float] = 0.9, class_id: int | list[int] | None = None,
                    class_name: str | list[str] | None = None) -> sv.Detections:
    """Detections as a prompter returns them; scalars apply to every box; `class_name` goes to `data`."""
    n = len(boxes)
    detections = sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.broadcast_to(np.asarray(confidence, dtype=np.float32), n).copy(),
        class_id=None if class_id is None else np.broadcast_to(np.asarray(class_id, dtype=int), n).copy(),
    )
    if class_name is not None:
        detections.data["class_name"] = np.broadcast_to(np.asarray(class_name, dtype=str), n).copy()
    return detections


def world_detections(world: World, frame_index: int, **kwargs) -> sv.Detections:
    """Perfect detections of every world object visible on a frame (keyword arguments go to `make_detections`)."""
    boxes = [boxes[frame_index] for boxes in world.values()
             if frame_index < len(boxes) and boxes[frame_index] is not None]
    return make_detections(boxes, **kwargs)


@dataclass
class Fault:
    """Scripted misbehaviour of every engine object bound to world object `target`, on frames `start`..`end`.

    A prompt to the object on or after `start` cancels the fault for that object.

    Attributes:
        follow: report this other world object's box instead (a swap onto a distractor).
        drift: the reported box moves by this (dx, dy) more on every frame of the fault.
        affinity, occurrence: report these scores instead of the engine's defaults.
        predict: report this other world object's box on the next frame as the motion prediction (`next_box`).
    """

    target: str
    start: int
    end: int = 10**9
    follow: str | None = None
    drift: tuple[float, float] = (0.0, 0.0)
    affinity: float | None = None
    occurrence: float | None = None
    predict: str | None = None


class ScriptedEngine(Tracker):
    """Replays a scripted world with the SAM2 engine's interface; see the module docstring.

    Attributes:
        prompts: the prompts received by each `step`, one dict per frame (empty when none).
        removed: IDs passed to `remove`, in order.
    """

    device = torch.device("cpu")

    def __init__(self, world: World, faults: list[Fault] | tuple[Fault, ...] = (),
                 frame_shape: tuple[int, int] = (240, 320), affinity: float = 0.9, occurrence: float = 0.95,
                 looks: dict[str, np.ndarray] | None = None, look_noise: float = 0.0) -> None:
        self.world = world
        self.looks = looks
        self.look_noise = look_noise
        self.faults = list(faults)
        self.frame_shape = frame_shape
        self.affinity = affinity
        self.occurrence = occurrence
        self.prompts: list[dict[int, Prompt]] = []
        self.removed: list[int] = []
        self.renamed: list[tuple[int, int]] = []
        self._bound: dict[int, str] = {}  # engine object ID -> world object name
        self._last_prompt: dict[int, int] = {}  # engine object ID -> frame of its latest prompt
        self._motion: dict[int, MotionScorer] = {}  # engine object ID -> its motion model

    @property
    def frame_index(self) -> int:
        """Index of the next frame `step` will play."""
        return len(self.prompts)

    @property
    def object_ids(self) -> list[int]:
        return list(self._bound)

    @property
    def bindings(self) -> dict[int, str]:
        """Engine object ID -> the world object it follows."""
        return dict(self._bound)

    def step(self, frame: np.ndarray | None, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]:
        """Play one frame (the pixels are ignored): bind prompted objects, then report every live object."""
        f = self.frame_index
        prompts = dict(prompts or {})
        for obj_id, prompt in prompts.items():
            self._bound[obj_id] = self._target_of(prompt, f)
            self._last_prompt[obj_id] = f
            self._motion.setdefault(obj_id, MotionScorer())
        self.prompts.append(prompts)
        return {obj_id: self._state(obj_id, f, obj_id in prompts) for obj_id in self._bound}

    def remove(self, obj_id: int) -> None:
        if obj_id not in self._bound:
            raise KeyError(f"no object {obj_id} in the engine")
        del self._bound[obj_id]
        del self._motion[obj_id]
        self.removed.append(obj_id)

    def rename(self, obj_id: int, new_id: int) -> None:
        if obj_id not in self._bound or new_id in self._bound:
            raise KeyError(f"cannot rename object {obj_id} to {new_id}")
        self._bound[new_id] = self._bound.pop(obj_id)
        self._last_prompt[new_id] = self._last_prompt.pop(obj_id)
        self._motion[new_id] = self._motion.pop(obj_id)
        self.renamed.append((obj_id, new_id))

    def reset(self) -> None:
        """Forget every object and play the world from its first frame again."""
        self._bound.clear()
        self._last_prompt.clear()
        self._motion.clear()
        self.prompts = []

    def memory_entries(self, obj_id: int) -> int:
        """A scripted object remembers nothing."""
        if obj_id not in self._bound:
            raise KeyError(f"no object {obj_id} in the engine")
        return 0

    def _box(self, name: str, f: int) -> np.ndarray | None:
        boxes = self.world[name]
        return boxes[f] if f < len(boxes) else None

    def _target_of(self, prompt: Prompt, f: int) -> str:
        """The world object a prompt points at on frame f."""
        visible = {name: self._box(name, f) for name in self.world if self._box(name, f) is not None}
        if prompt.points is not None and prompt.box is None:
            positive = prompt.points[prompt.labels == 1]
            scores = {name: int(np.sum((positive[:, 0] >= b[0]) & (positive[:, 0] < b[2])
                                       & (positive[:, 1] >= b[1]) & (positive[:, 1] < b[3])))
                      for name, b in visible.items()}
        else:
            box = prompt.box if prompt.box is not None else mask_to_box(prompt.mask)
            scores = {name: sv.box_iou(box, b) for name, b in visible.items()}
        if not scores or max(scores.values()) <= 0:
            raise ValueError(f"prompt on frame {f} points at no visible world object: {prompt}")
        return max(scores, key=scores.get)

    def _state(self, obj_id: int, f: int, prompted: bool) -> ObjectState:
        name = self._bound[obj_id]
        fault = next((x for x in self.faults if x.target == name and x.start <= f <= x.end
                      and self._last_prompt[obj_id] < x.start), None)
        shown = fault.follow if fault and fault.follow else name
        box = self._box(shown, f)
        affinity, occurrence = self.affinity, self.occurrence
        if fault:
            box = None if box is None else box + (f - fault.start + 1) * np.array([*fault.drift, *fault.drift])
            affinity = fault.affinity if fault.affinity is not None else affinity
            occurrence = fault.occurrence if fault.occurrence is not None else occurrence
        status = "prompted" if prompted else "tracked"
        mask = np.zeros(self.frame_shape, dtype=bool)
        if box is None:
            affinity, occurrence = HIDDEN_AFFINITY, HIDDEN_OCCURRENCE
        else:
            x0, y0, x1, y1 = np.round(box).astype(int)
            mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
        next_box = self._follow_motion(obj_id, mask_to_box(mask), affinity, prompted)
        if fault and fault.predict:
            next_box = self._box(fault.predict, f + 1)
        embedding = None if box is None else self._look(shown, obj_id, f)
        return ObjectState(mask, mask_to_box(mask), affinity, occurrence, None, status, embedding=embedding,
                           next_box=next_box)

    def _follow_motion(self, obj_id: int, box: np.ndarray, affinity: float, prompted: bool) -> np.ndarray | None:
        """Feed the object's motion model its box as the engine does (a start on a prompt, else one candidate);
        its prediction for the next frame."""
        motion = self._motion[obj_id]
        if prompted:
            motion.start(box)
        else:
            motion.choose(box[None], np.array([affinity]))
        return motion.next_box

    def _look(self, name: str, obj_id: int, f: int) -> np.ndarray | None:
        """The embedding of world object `name` as object `obj_id` sees it on frame f (deterministic noise)."""
        if self.looks is None:
            return None
        look = np.asarray(self.looks[name], dtype=np.float32)
        noise = np.random.default_rng([f, obj_id]).normal(0.0, self.look_noise, look.shape)
        vector = look / np.linalg.norm(look) + noise.astype(np.float32)
        return vector / np.linalg.norm(vector)



def scenario_world(scenario) -> World:
    """A synthetic scenario (`autotrack.eval.synthetic`) as a world: each object's visible box on every frame, by
    its role."""
    from autotrack.eval.synthetic import render_scenario

    world: World = {obj.role: [] for obj in scenario.objects}
    for _, truth in render_scenario(scenario):
        boxes = dict(zip(truth.ids.tolist(), truth.boxes))
        for obj in scenario.objects:
            world[obj.role].append(boxes.get(obj.object_id))
    return world


class FunctionPrompter(Prompter):
    """A function `(frame, frame_index) -> Detections | None` as a prompter (no classes, no examples)."""

    def __init__(self, function) -> None:
        self.function = function

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections | None:
        return self.function(frame, frame_index)


class StubOpenVocabularyDetector(Prompter):
    """An open-vocabulary detector that knows the truth: it finds the world objects whose class name is in its
    vocabulary, and those that look like an example (`looks`: world object -> its look; one look, one appearance).

    It has `YoloePrompter`'s interface: `set_classes` (any thread; applies on the next call) and `add_examples`.
    Class ids are stable per name. `calls` records the vocabulary each call used.
    """

    def __init__(self, world: World, classes_of: dict[str, str], looks: dict[str, str] | None = None,
                 text: list[str] = ()) -> None:
        self.world, self.classes_of, self.looks = world, classes_of, looks or {}
        self.text = list(text)
        self.examples: dict[str, str] = {}  # look -> class name of the example that showed it
        self.ids: dict[str, int] = {}
        self.calls: list[list[str]] = []
        self._pending: list[str] | None = None
        self._lock = threading.Lock()

    def set_classes(self, classes: list[str]) -> None:
        with self._lock:
            self._pending = list(classes)

    def add_examples(self, frame: np.ndarray, examples: list) -> None:
        f = len(self.calls)
        for example in examples:
            name = max(self.world, key=lambda n: sv.box_iou(example.box, self.world[n][f])
                       if self.world[n][f] is not None else -1.0)
            self.examples[self.looks[name]] = example.class_name or "object"

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections:
        with self._lock:
            if self._pending is not None:
                self.text, self._pending = self._pending, None
        self.calls.append(list(self.text))
        boxes, names = [], []
        for name, world_boxes in self.world.items():
            box = world_boxes[frame_index] if frame_index < len(world_boxes) else None
            label = self.examples.get(self.looks.get(name)) or (
                self.classes_of.get(name) if self.classes_of.get(name) in self.text else None)
            if box is not None and label:
                boxes.append(box)
                names.append(label)
        class_id = [self.ids.setdefault(n, len(self.ids)) for n in names]
        return make_detections(boxes, class_id=class_id, class_name=names)
