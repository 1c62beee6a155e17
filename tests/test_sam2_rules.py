"""SAMURAI's rules with scripted candidates: motion-aware candidate choice and memory selection.

The memory rules run on entries laid out as each model stores them (SAM2: a token per stride-16 pixel; EdgeTAM: 512
tokens compressed by its perceiver), taken from a real frame of each model.
"""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from autotrack import Prompt, SAM2Tracker
from autotrack.engine.memory import (
    FifoPolicy,
    MemoryEntry,
    MotionAwarePolicy,
    ObjectMemory,
)
from autotrack.engine.scoring import STABLE_FRAMES, MotionScorer
from autotrack.models.registry import motion_weight


def box_at(frame: int) -> np.ndarray:
    """An object moving right by 4 px per frame."""
    return np.array([10 + 4 * frame, 50, 50 + 4 * frame, 110], dtype=np.float32)


MODELS = ["sam2.1_t", "edgetam"]
DISTRACTOR = np.array([300, 200, 340, 260], dtype=np.float32)


def feed_true_track(scorer: MotionScorer, frames: int) -> None:
    scorer.start(box_at(0))
    for frame in range(1, frames):
        chosen, _ = scorer.choose(np.stack([box_at(frame)]), np.array([0.8]))
        assert chosen == 0


@pytest.mark.parametrize("model", MODELS)
def test_distractor_with_higher_predicted_iou_loses_once_stable(model):
    scorer = MotionScorer(weight=motion_weight(model))  # SAMURAI's weight for small models
    feed_true_track(scorer, STABLE_FRAMES + 5)
    frame = STABLE_FRAMES + 5
    chosen, motion = scorer.choose(np.stack([DISTRACTOR, box_at(frame)]), np.array([0.9, 0.8]))
    assert chosen == 1
    assert motion is not None and motion > 0.8


@pytest.mark.parametrize("model", MODELS)
def test_distractor_wins_before_the_filter_is_stable(model):
    scorer = MotionScorer(weight=motion_weight(model))  # SAMURAI's weight for small models
    feed_true_track(scorer, 5)
    chosen, motion = scorer.choose(np.stack([DISTRACTOR, box_at(5)]), np.array([0.9, 0.8]))
    assert chosen == 0
    assert motion is None


@pytest.mark.parametrize("model", MODELS)
def test_low_confidence_frame_restarts_stability(model):
    scorer = MotionScorer(weight=motion_weight(model))  # SAMURAI's weight for small models
    feed_true_track(scorer, STABLE_FRAMES + 2)
    assert scorer.choose(np.stack([box_at(STABLE_FRAMES + 2)]), np.array([0.8]))[1] is not None
    scorer.choose(np.stack([box_at(STABLE_FRAMES + 3)]), np.array([0.2]))  # below the 0.3 gate
    assert scorer.stable_count == 0
    _, motion = scorer.choose(np.stack([box_at(STABLE_FRAMES + 4)]), np.array([0.8]))
    assert motion is None  # back to counting


def test_prediction_is_the_next_predict_and_coasts_while_hidden():
    scorer = MotionScorer()
    assert scorer.next_box is None  # no box yet
    feed_true_track(scorer, STABLE_FRAMES + 5)
    hidden = np.zeros((1, 4), dtype=np.float32)
    x0 = []
    for _ in range(5):  # hidden: an empty mask with a low predicted IoU; the filter coasts at the learned velocity
        expected = scorer.next_box
        scorer.choose(hidden, np.array([0.1]))
        np.testing.assert_allclose(scorer.kalman.box, expected)  # what was read as next is what the frame predicted
        x0.append(scorer.next_box[0])
    assert scorer.stable_count == 0
    np.testing.assert_allclose(np.diff(x0), 4.0, atol=0.1)
    # back in view: the filter restarts at its box (zero velocity), as a fresh SAMURAI filter does
    back = box_at(STABLE_FRAMES + 10)
    fresh = MotionScorer()
    fresh.start(back)
    assert scorer.choose(np.stack([back]), np.array([0.8])) == (0, None)
    np.testing.assert_array_equal(scorer.next_box, fresh.next_box)
    assert scorer.stable_count == fresh.stable_count == 1


def test_without_scoring_the_best_predicted_iou_wins_and_the_filter_still_follows():
    scorer = MotionScorer(scoring=False)  # kalman=False: plain SAM2's choice, the filter kept for its prediction
    feed_true_track(scorer, STABLE_FRAMES + 5)
    frame = STABLE_FRAMES + 5
    assert sv.box_iou(scorer.next_box, box_at(frame)) > 0.9
    chosen, motion = scorer.choose(np.stack([DISTRACTOR, box_at(frame)]), np.array([0.9, 0.8]))
    assert (chosen, motion) == (0, None)


@pytest.fixture(scope="module", params=MODELS)
def stored(request) -> MemoryEntry:
    """An entry as the model stores it, from one prompted frame."""
    tracker = SAM2Tracker(request.param, weights="random", imgsz=256, device="cpu")
    tracker.step(np.full((120, 160, 3), 90, np.uint8), {1: Prompt(box=[20, 20, 100, 90])})
    return tracker.object_memory(1).conditioning[0]


def entry(stored: MemoryEntry, frame: int, reliable: bool) -> MemoryEntry:
    return MemoryEntry(
        frame_index=frame,
        features=stored.features + frame,  # each frame's tokens differ
        obj_ptr=stored.obj_ptr,
        affinity=0.9 if reliable else 0.2,
        object_score=5.0,
        motion=0.8,
    )


def store(stored: MemoryEntry, policy, reliable: list[bool]) -> ObjectMemory:
    memory = ObjectMemory(policy)
    memory.add(entry(stored, 0, True), conditioning=True)
    for frame, ok in enumerate(reliable, start=1):
        memory.add(entry(stored, frame, ok), conditioning=False)
    return memory


def attended_frames(memory: ObjectMemory, frame: int) -> list[int]:
    spatial, _ = memory.select(frame)
    return [e.frame_index for t_pos, e in spatial if t_pos > 0]


def test_unreliable_frames_skipped_by_motion_aware_and_kept_by_fifo(stored):
    # frames 1..10; frames 6..9 are unreliable (an occlusion), frame 10 is the previous frame and also unreliable
    reliable = [True] * 5 + [False] * 5
    motion_aware = store(stored, MotionAwarePolicy(), reliable)
    fifo = store(stored, FifoPolicy(), reliable)
    assert attended_frames(motion_aware, 11) == [1, 2, 3, 4, 5, 10]
    assert attended_frames(fifo, 11) == [5, 6, 7, 8, 9, 10]


def test_previous_frame_always_attended_and_t_pos_ends_at_previous_slot(stored):
    memory = store(stored, MotionAwarePolicy(), [True] * 20 + [False])
    spatial, _ = memory.select(22)
    recent = [(t_pos, e.frame_index) for t_pos, e in spatial if t_pos > 0]
    assert recent[-1] == (6, 21)  # the unreliable previous frame, in SAM2's "1 frame back" slot
    assert [f for _, f in recent] == [16, 17, 18, 19, 20, 21]


def test_a_long_bad_streak_keeps_the_last_good_memories(stored):
    memory = store(stored, MotionAwarePolicy(), [True] * 10 + [False] * 500)
    assert attended_frames(memory, 511) == [6, 7, 8, 9, 10, 510]
    assert len(memory.recent) <= 7


def test_pointers_cover_conditioning_and_last_15_frames(stored):
    memory = store(stored, FifoPolicy(), [True] * 40)
    _, pointers = memory.select(41)
    distances = [d for d, _ in pointers]
    assert distances == [41] + list(range(1, 16))


def test_motion_aware_store_holds_only_what_it_can_attend_to(stored):
    # after any history, every stored recent entry is attended on the next frame: nothing is kept for nothing
    for reliable in ([True] * 30, [True] * 10 + [False] * 20, [True, False] * 15):
        memory = store(stored, MotionAwarePolicy(), reliable)
        next_frame = len(reliable) + 1
        assert sorted(attended_frames(memory, next_frame)) == sorted(e.frame_index for e in memory.recent)
        assert len(memory.recent) == 6
