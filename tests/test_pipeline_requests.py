"""Requests to a running Pipeline from another thread (a user interface): prompt a new or live object, remove one,
change the detector's classes. They apply at the start of the next frame."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fakes import ScriptedEngine, make_detections, moving_box

from autotrack.errors import AutotrackError
from autotrack.pipeline import Pipeline
from autotrack.prompters.base import Prompter
from autotrack.prompters.yolo import PrompterError, YoloPrompter
from autotrack.types import Prompt

FRAMES = 8
WORLD = {"car": moving_box((20, 20, 80, 80), FRAMES, velocity=(2, 0)),
         "dog": moving_box((200, 120, 260, 200), FRAMES),
         "cat": moving_box((120, 20, 170, 70), FRAMES)}


class CarDetector(Prompter):
    """Sees the car from frame 3 on, and only the classes it was told to keep."""

    def __init__(self) -> None:
        self.classes = ["car"]

    def set_classes(self, classes):
        self.classes = classes

    def __call__(self, frame, frame_index):
        if frame_index < 3 or "car" not in (self.classes or ["car"]):
            return None
        return make_detections([WORLD["car"][frame_index]], class_name="car")


def frames(n: int = FRAMES) -> list[np.ndarray]:
    return [np.zeros((240, 320, 3), np.uint8) for _ in range(n)]


def from_other_thread(call) -> object:
    """Run `call` in another thread, as a web server's handler would, and return its result."""
    out = []
    thread = threading.Thread(target=lambda: out.append(call()))
    thread.start()
    thread.join(timeout=10)
    return out[0]


def ids(result) -> list[int]:
    return [] if result.detections.tracker_id is None else result.detections.tracker_id.tolist()


def events(result) -> list[tuple[str, int]]:
    return [(event.kind, event.tracker_id) for event in result.events]


def test_a_prompt_from_another_thread_starts_an_object_on_the_next_frame_with_an_id_no_birth_takes():
    engine = ScriptedEngine(WORLD)
    pipeline = Pipeline(frames(), CarDetector(), engine)
    stream = pipeline.stream()
    for _ in range(3):
        assert ids(next(stream)) == []
    # the ID is given out at once, before the detector's birth on the next frame
    dog = from_other_thread(lambda: pipeline.add_prompt(Prompt(points=[[230, 160]]), class_name="dog"))
    result = next(stream)  # frame 3: the prompt and the car's birth
    assert dog == 1 and ids(result) == [1, 2]
    assert ("born", 1) in events(result) and ("born", 2) in events(result)
    assert result.detections.data["class_name"].tolist() == ["dog", "car"]
    assert engine.bindings == {1: "dog", 2: "car"}
    assert set(engine.prompts[3]) == {1, 2}  # the frame the prompt was asked for, not a later one
    list(stream)


def test_a_prompt_to_a_live_object_reprompts_it_and_keeps_its_id():
    engine = ScriptedEngine(WORLD)
    pipeline = Pipeline(frames(), None, engine)
    stream = pipeline.stream()
    first = pipeline.add_prompt(Prompt(box=WORLD["cat"][0]))
    next(stream)
    again = from_other_thread(lambda: pipeline.add_prompt(Prompt(box=WORLD["cat"][1]), object_id=first))
    result = next(stream)
    assert again == first == 1 and ids(result) == [1]
    assert events(result) == [("reprompted", 1)]
    assert 1 in engine.prompts[1]
    list(stream)


def test_remove_from_another_thread_drops_the_object_on_the_next_frame_and_retires_its_id():
    engine = ScriptedEngine(WORLD)
    pipeline = Pipeline(frames(), CarDetector(), engine)
    stream = pipeline.stream()
    cat = pipeline.add_prompt(Prompt(box=WORLD["cat"][0]))
    for _ in range(4):  # the car is born on frame 3
        result = next(stream)
    assert ids(result) == [1, 2]
    from_other_thread(lambda: pipeline.remove(cat))
    pipeline.remove(99)  # not live: ignored
    result = next(stream)
    assert ids(result) == [2] and events(result) == [("removed", 1)]
    assert engine.removed == [cat]
    assert pipeline.add_prompt(Prompt(box=WORLD["dog"][5])) == 3  # a retired ID is never given out again
    rest = list(stream)
    assert all(1 not in ids(r) for r in rest) and pipeline.summary.events["removed"] == 1


def test_a_prompt_and_a_removal_of_the_same_object_before_a_frame_leave_nothing():
    engine = ScriptedEngine(WORLD)
    pipeline = Pipeline(frames(), None, engine)
    stream = pipeline.stream()
    next(stream)
    dog = pipeline.add_prompt(Prompt(box=WORLD["dog"][1]))
    pipeline.remove(dog)
    result = next(stream)
    assert ids(result) == [] and events(result) == [] and engine.object_ids == []
    list(stream)


def test_set_classes_changes_what_the_detector_keeps_and_needs_a_detector():
    detector = CarDetector()
    pipeline = Pipeline(frames(), detector, ScriptedEngine(WORLD))
    from_other_thread(lambda: pipeline.set_classes(["person"]))
    assert detector.classes == ["person"]
    assert ids(list(pipeline.stream())[-1]) == []  # the car was never detected
    with pytest.raises(AutotrackError, match="no detector"):
        Pipeline(frames(), None, ScriptedEngine(WORLD)).set_classes(["car"])


def test_yolo_prompter_set_classes_resolves_names_and_refuses_unknown_ones():
    prompter = YoloPrompter("random", classes=["person"])
    frame = np.zeros((64, 64, 3), np.uint8)
    prompter.set_classes(["car", "dog"])
    prompter(frame, 0)  # a change applies at the start of the next detection
    assert prompter.classes == [2, 16]
    prompter.set_classes(None)
    prompter(frame, 1)
    assert prompter.classes is None
    with pytest.raises(PrompterError, match="unknown class 'unicorn'"):
        prompter.set_classes(["unicorn"])


def test_numbers_out_of_range_are_refused_in_python_and_change_nothing():
    from autotrack.errors import InputError
    from autotrack.sources import ArraySource

    for box in ([0, 0, 1e39, 10], [0, 0, float("nan"), 10], [0, 0, float("inf"), 10]):
        with pytest.raises(InputError, match="finite numbers within float32's range"):
            Prompt(box=box)
    with pytest.raises(InputError, match="finite numbers within float32's range"):
        Prompt(points=[[1e308, 5]])
    with pytest.raises(InputError, match="max_frames must be an integer of at least 1, got 1.5"):
        Pipeline(frames(), None, ScriptedEngine(WORLD), max_frames=1.5)
    pipeline = Pipeline(ArraySource(frames()), None, ScriptedEngine(WORLD))
    stream = pipeline.stream()
    results = [next(stream)]  # the source knows its frame size from here on
    with pytest.raises(InputError, match="lies far outside the 320x240 frame"):
        pipeline.add_prompt(Prompt(box=[0, 0, 100_000, 10]))
    for object_id in (0, 2**31, 2**64 + 1):
        with pytest.raises(InputError, match="an object id is an integer from 1 to 2147483647"):
            pipeline.add_prompt(Prompt(box=[10, 10, 50, 50]), object_id)
    results += list(stream)
    assert len(results) == FRAMES and all(not result.events for result in results)  # nothing was prompted
