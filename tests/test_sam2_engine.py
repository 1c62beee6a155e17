"""SAM2Tracker on random weights, with SAM2.1-tiny and with EdgeTAM: objects join, are re-prompted and leave on any
frame; memory stays bounded. EdgeTAM's smallest input is 256 px (its perceiver pools memory into a 16x16 grid)."""

from __future__ import annotations

import numpy as np
import pytest
from supervision import box_iou

from autotrack import Prompt, SAM2Tracker
from autotrack.eval.synthetic import make_scenario, render_frame
from autotrack.engine.memory import MAX_CONDITIONING, MAX_OBJ_PTRS, NUM_MASKMEM
from autotrack.models import load_engine

MODELS = ["sam2.1_t", "edgetam"]
SMALL = {"sam2.1_t": 128, "edgetam": 256}  # a small input size each model takes
SMALLEST = {"sam2.1_t": 64, "edgetam": 256}


@pytest.fixture(scope="module")
def scenario():
    return make_scenario("mixed", n_frames=40, size=(160, 120), seed=3)


@pytest.mark.parametrize("model", MODELS)
def test_objects_added_reprompted_and_removed_in_one_run(scenario, model):
    tracker = SAM2Tracker(model, weights="random", imgsz=SMALL[model], device="cpu")
    first = render_frame(scenario, 0)[1]
    box_a, box_b = first.boxes[0], first.boxes[1]
    seen: dict[int, set[int]] = {}
    for index in range(35):
        frame = render_frame(scenario, index)[0]
        prompts = {}
        if index == 0:
            prompts[1] = Prompt(box=box_a)
        if index == 5:
            prompts[3] = Prompt(mask=first.masks[1])
        if index == 10:
            prompts[2] = Prompt(points=[box_b[:2] + 5], labels=[1])
        if index == 20:
            prompts[1] = Prompt(box=box_a, points=[box_a[:2] + 3], labels=[1])  # re-prompt a known object
        if index == 30:
            tracker.remove(2)
        states = tracker.step(frame, prompts)
        seen[index] = set(states)
        for obj_id, state in states.items():
            assert state.mask.shape == frame.shape[:2]
            assert state.mask.any(), f"object {obj_id} has an empty mask on frame {index}"
            assert state.status == ("prompted" if obj_id in prompts else "tracked")
            assert 0.0 <= state.affinity <= 1.0 and 0.0 <= state.occurrence <= 1.0
    assert seen[0] == {1} and seen[9] == {1, 3} and seen[10] == {1, 2, 3}
    assert seen[29] == {1, 2, 3} and seen[30] == {1, 3} and seen[34] == {1, 3}
    assert tracker.object_ids == [1, 3]
    assert len(tracker.object_memory(1).conditioning) == 2  # the prompt on frame 0 and the one on frame 20


@pytest.mark.parametrize("model", MODELS)
def test_motion_score_appears_once_the_filter_is_stable(scenario, model):
    tracker = SAM2Tracker(model, weights="random", imgsz=SMALL[model], device="cpu", kalman=True)
    motions = []
    for index in range(20):
        prompts = {1: Prompt(box=render_frame(scenario, 0)[1].boxes[0])} if index == 0 else None
        motions.append(tracker.step(render_frame(scenario, index)[0], prompts)[1].motion)
    assert all(m is None for m in motions[:14])
    assert all(m is not None and 0.0 <= m <= 1.0 for m in motions[16:])


def test_each_object_has_one_motion_model_also_without_kalman_scoring(scenario):
    # kalman=False (plain SAM2) keeps the filter for the prediction identity reads; until the filter is stable both
    # sessions choose the same masks, so the same filter gives the same prediction
    model = load_engine("sam2.1_t", "random", SMALL["sam2.1_t"], "cpu", "fp32")
    runs = {}
    for kalman in (True, False):
        tracker = model.session(kalman=kalman)
        prompt = {1: Prompt(box=render_frame(scenario, 0)[1].boxes[0])}
        runs[kalman] = [tracker.step(render_frame(scenario, i)[0], prompt if i == 0 else None)[1] for i in range(8)]
    for scored, plain in zip(runs[True], runs[False]):
        assert plain.motion is None and plain.mask.any()
        np.testing.assert_array_equal(scored.mask, plain.mask)
        assert plain.next_box is not None and box_iou(plain.next_box, plain.box) > 0.5
        np.testing.assert_array_equal(scored.next_box, plain.next_box)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("memory", ["motion-aware", "fifo"])
@pytest.mark.parametrize("model", MODELS)
def test_memory_stays_bounded_over_a_long_run(model, memory):
    """3 objects for 120 frames at a small imgsz, object 1 re-prompted 5 times (more than the 4 prompted frames
    kept): the entries each object holds never pass the fixed bound, and neither do the memory tokens (EdgeTAM keeps
    each entry compressed: 512 tokens at any input size)."""
    scenario = make_scenario("crossing", n_frames=60, size=(96, 64), seed=0)
    frames = [render_frame(scenario, i)[0] for i in range(60)]
    tracker = SAM2Tracker(model, weights="random", imgsz=SMALLEST[model], device="cpu", memory=memory)
    boxes = [[2, 2, 40, 30], [50, 20, 90, 60], [10, 30, 60, 62]]
    bound = MAX_CONDITIONING + NUM_MASKMEM - 1  # 4 prompted frames + the 6 recent ones attention can select
    n_frames, reprompt_every = 120, 20  # past every bound: prompted frames, recent frames, pointers
    most = 0
    for index in range(n_frames):
        prompts = {i + 1: Prompt(box=b) for i, b in enumerate(boxes)} if index == 0 else None
        # re-prompt object 1 now and then, so conditioning entries would pile up if they were not bounded
        if index and index % reprompt_every == 0:
            prompts = {1: Prompt(box=boxes[0])}
        states = tracker.step(frames[index % 60], prompts)
        assert len(states) == 3
        for obj_id in tracker.object_ids:
            most = max(most, tracker.memory_entries(obj_id))
            assert len(tracker.object_memory(obj_id).pointers) < MAX_OBJ_PTRS
    assert most == bound  # never past the bound, and the store did fill up to it
    memory = tracker.object_memory(1)
    tokens = {entry.features.shape[1] for entry in [*memory.conditioning, *memory.recent]}
    assert tokens == {512 if model == "edgetam" else (SMALLEST[model] // 16) ** 2}


def test_bad_frames_and_settings_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        SAM2Tracker("sam2.1_t", weights="random", imgsz=100)
    with pytest.raises(ValueError, match="memory policy"):
        SAM2Tracker("sam2.1_t", weights="random", imgsz=64, memory="lru")
    with pytest.raises(ValueError, match="multiple of 256"):
        SAM2Tracker("edgetam", weights="random", imgsz=320)
    tracker = SAM2Tracker("sam2.1_t", weights="random", imgsz=64, device="cpu")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        tracker.step(np.zeros((10, 10), np.uint8), {1: Prompt(box=[1, 1, 5, 5])})
    assert tracker.step(np.zeros((10, 10, 3), np.uint8)) == {}  # nothing to follow: no work, no error


@pytest.mark.parametrize("model, embedding", [("sam2.1_t", None), ("sam2.1_t", "features"),
                                              ("sam2.1_t", "pointer"), ("edgetam", "features")])
def test_embeddings_on_request_and_renamed_objects_keep_their_memory(scenario, model, embedding):
    tracker = SAM2Tracker(model, weights="random", imgsz=SMALLEST[model], device="cpu", embedding=embedding)
    first = render_frame(scenario, 0)[1]
    for index in range(4):
        prompts = {1: Prompt(box=first.boxes[0]), 2: Prompt(box=first.boxes[1])} if index == 0 else None
        states = tracker.step(render_frame(scenario, index)[0], prompts)
        for state in states.values():
            if embedding is None:
                assert state.embedding is None
            else:  # one unit-length vector per visible object
                assert state.mask.any() and state.embedding.shape == (tracker.parts.hidden_dim,)
                assert np.linalg.norm(state.embedding) == pytest.approx(1.0, abs=1e-5)
    entries = tracker.memory_entries(1)
    tracker.rename(1, 7)
    assert sorted(tracker.object_ids) == [2, 7] and tracker.memory_entries(7) == entries
    assert sorted(tracker.step(render_frame(scenario, 4)[0])) == [2, 7]
    with pytest.raises(ValueError, match="7 is followed"):
        tracker.rename(2, 7)
