"""Open vocabulary in the pipeline, with a stub detector that knows a synthetic scenario's truth and the scripted
engine: classes change mid-run without losing an ID, and examples find their object and its look-alike."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fakes import FunctionPrompter, ScriptedEngine, StubOpenVocabularyDetector, scenario_world

from autotrack.eval.synthetic import make_scenario, render_scenario
from autotrack.pipeline import Pipeline
from autotrack.prompters.manual import ManualPrompts, PromptsError
from autotrack.prompters.yolo import PrompterError

FRAMES = 30
CHANGE = 10  # set_classes is called after this frame's result


@pytest.fixture(scope="module")
def mixed():
    scenario = make_scenario("mixed", n_frames=FRAMES, size=(320, 240), seed=1)
    shapes = {obj.role: "ellipse" if obj.shape_mask.mean() < 1 else "rectangle" for obj in scenario.objects}
    # one look per texture: the distractor is drawn with the re-entering object's texture and shape
    looks = {obj.role: next(o.role for o in scenario.objects if o.texture is obj.texture) for obj in scenario.objects}
    frames = [frame for frame, _ in render_scenario(scenario)]
    return scenario_world(scenario), shapes, looks, frames


def test_set_classes_mid_run_adds_the_new_class_on_the_next_frame_and_keeps_every_id(mixed):
    world, shapes, _, frames = mixed
    detector = StubOpenVocabularyDetector(world, shapes, text=["ellipse"])
    engine = ScriptedEngine(world, frame_shape=frames[0].shape[:2])
    pipeline = Pipeline(frames, detector, engine)
    results = []
    for result in pipeline.stream():
        results.append(result)
        if result.frame_index == CHANGE:
            pipeline.set_text("rectangle")  # only rectangles from now on: ellipses get no more detections

    assert detector.calls[CHANGE] == ["ellipse"] and detector.calls[CHANGE + 1] == ["rectangle"]
    born = {(r.frame_index, e.tracker_id) for r in results for e in r.events if e.kind == "born"}
    early = {tracker_id for f, tracker_id in born if f <= CHANGE}
    bound = engine.bindings
    assert early and {shapes[bound[i]] for i in early} == {"ellipse"}
    # every rectangle in view on the next frame is born on that frame, under the new class name
    visible_rectangles = {n for n, s in shapes.items() if s == "rectangle" and world[n][CHANGE + 1] is not None}
    born_next = {bound[i] for f, i in born if f == CHANGE + 1}
    assert visible_rectangles and born_next == visible_rectangles
    rows = results[CHANGE + 1].detections
    assert set(rows.data["class_name"][np.isin(rows.tracker_id, [i for f, i in born if f == CHANGE + 1])]) == {
        "rectangle"}
    # the ellipses followed before the change keep their IDs and memory to the end: no loss, no second ID
    assert not [e for r in results for e in r.events if e.kind == "lost"]
    for tracker_id in early:
        assert all(tracker_id in r.detections.tracker_id for r in results[CHANGE:])
    assert not {bound[i] for f, i in born if f > CHANGE} & {bound[i] for i in early}  # never a second ID
    assert engine.removed == []


def test_set_classes_from_another_thread_applies_between_frames(mixed):
    world, shapes, _, frames = mixed
    detector = StubOpenVocabularyDetector(world, shapes, text=["ellipse"])
    pipeline = Pipeline(frames[:12], detector, ScriptedEngine(world, frame_shape=frames[0].shape[:2]))
    stream = pipeline.stream()
    next(stream)
    caller = threading.Thread(target=pipeline.set_classes, args=(["ellipse", "rectangle"],))
    caller.start()
    caller.join()
    rest = list(stream)
    assert detector.calls[1] == ["ellipse", "rectangle"] and len(rest) == 11


def test_like_finds_the_example_and_its_look_alike_and_follows_both(mixed):
    world, shapes, looks, frames = mixed
    example_frame = 20  # the look-alike ("reentering") is back in view from frame 18 to the end
    box = world["distractor"][example_frame]
    prompts = ManualPrompts.from_options(like=[f"{','.join(str(v) for v in box)}@{example_frame}"])
    detector = StubOpenVocabularyDetector(world, shapes, looks)  # no text: only what looks like the example
    engine = ScriptedEngine(world, frame_shape=frames[0].shape[:2])
    results = list(Pipeline(frames, detector, engine, prompts=prompts).stream())

    born = [(r.frame_index, e.tracker_id) for r in results for e in r.events if e.kind == "born"]
    bound = engine.bindings
    assert sorted((f, bound[i]) for f, i in born) == [(example_frame, "distractor"), (example_frame, "reentering")]
    for result in results[example_frame:]:  # both followed to the end, under the example's class name
        rows = result.detections
        assert sorted(rows.tracker_id) == sorted(i for _, i in born)
        assert set(rows.data["status"]) == {"tracked"} and set(rows.data["class_name"]) == {"object"}
    assert all(len(r.detections) == 0 for r in results[:example_frame])


def test_like_box_outside_the_frame_or_a_closed_set_detector_is_one_clear_error(mixed):
    world, shapes, looks, frames = mixed
    outside = ManualPrompts.from_options(like=["300,200,400,260"])  # the frames are 320x240
    with pytest.raises(PromptsError) as error:
        list(Pipeline(frames, StubOpenVocabularyDetector(world, shapes, looks), ScriptedEngine(world),
                      prompts=outside).stream())
    assert "lies outside the 320x240 frame" in str(error.value)

    closed_set = FunctionPrompter(lambda frame, frame_index: None)
    inside = ManualPrompts.from_options(like=["10,10,50,50"])
    with pytest.raises(PrompterError, match="cannot find objects like an example"):
        list(Pipeline(frames, closed_set, ScriptedEngine(world), prompts=inside).stream())
    with pytest.raises(PrompterError, match="no detector whose classes can change"):
        Pipeline(frames, closed_set, ScriptedEngine(world)).set_classes(["car"])
