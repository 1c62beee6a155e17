"""Identity manager: one test per rule, driven through the scripted engine so every decision can be asserted exactly."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import Fault, ScriptedEngine, make_detections, moving_box, world_detections
from supervision import box_iou

from autotrack.identity import IdentityConfig, IdentityManager
from autotrack.types import EVENT_KINDS


def run(manager, engine, num_frames, detect=None, points=None):
    """Drive plan -> engine.step -> observe; return each frame's (detections, events)."""
    frames = []
    for f in range(num_frames):
        prompts = manager.plan(detect(f) if detect else None, points(f) if points else None)
        frames.append(manager.observe(engine.step(None, prompts), engine))
    return frames


def event_log(frames):
    """All events as (frame, kind, tracker_id)."""
    return [(f, e.kind, e.tracker_id) for f, (_, events) in enumerate(frames) for e in events]


def prompted_frames(engine):
    """Frame -> prompted IDs, for frames with prompts."""
    return {f: sorted(p) for f, p in enumerate(engine.prompts) if p}


def row(detections, tracker_id):
    """One object's row of an output, or None."""
    index = np.flatnonzero(detections.tracker_id == tracker_id)
    return detections[int(index[0])] if len(index) else None


def test_object_occluded_for_20_frames_comes_back_with_its_id():
    # 3 px/frame for 20 hidden frames: it reappears 60 px (1.5 box widths) past its last box, where only the
    # Kalman prediction can match it
    world = {"a": moving_box((20, 100, 60, 140), 60, velocity=(3, 0), hidden=range(20, 40))}
    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 60, lambda f: world_detections(world, f))

    assert event_log(frames) == [(0, "born", 1), (20, "occluded", 1), (40, "reprompted", 1), (40, "resumed", 1)]
    assert "re-entry" in frames[40][1][0].reason
    assert box_iou(world["a"][19], world["a"][40]) == 0.0
    assert prompted_frames(engine) == {0: [1], 40: [1]}
    np.testing.assert_array_equal(engine.prompts[40][1].box, world["a"][40])
    for f, (detections, _) in enumerate(frames):
        assert detections.tracker_id.tolist() == [1]
        hidden = 20 <= f < 40
        assert detections.data["status"][0] == ("occluded" if hidden else "tracked")
        assert detections.mask[0].any() != hidden
    # the coasting box follows the motion
    assert box_iou(frames[39][0].xyxy[0], moving_box((20, 100, 60, 140), 40, velocity=(3, 0))[39]) > 0.8


@pytest.mark.parametrize("reappears_at", ["engine prediction", "observed motion"])
def test_occluded_object_is_matched_where_the_engine_predicts_it(reappears_at):
    # one motion model per object: "a" moves right, then hides; from frame 10 the engine's motion model (scripted)
    # expects it to go down instead. Identity places and matches the hidden object where the engine predicts it,
    # not where a filter of its own, fed the boxes it saw, would coast ("right", far from there)
    world = {"a": moving_box((20, 100, 60, 140), 26, velocity=(3, 0), hidden=range(10, 26)),
             "down": moving_box((47, 73, 87, 113), 26, velocity=(0, 3), hidden=range(10)),
             "right": moving_box((20, 100, 60, 140), 26, velocity=(3, 0), hidden=range(25))}
    engine = ScriptedEngine(world, faults=[Fault("a", start=10, predict="down")])
    box = world["down" if reappears_at == "engine prediction" else "right"][25]
    assert box_iou(world["down"][25], world["right"][25]) == 0.0
    detections = {0: make_detections([world["a"][0]]), 25: make_detections([box])}
    frames = run(IdentityManager(), engine, 26, detections.get)

    for f in range(11, 25):  # the occluded row's box is the engine's prediction, made on the frame before
        np.testing.assert_allclose(row(frames[f][0], 1).xyxy[0], world["down"][f], atol=1e-4)
    if reappears_at == "engine prediction":
        assert event_log(frames) == [(0, "born", 1), (10, "occluded", 1), (25, "reprompted", 1), (25, "resumed", 1)]
        assert "re-entry" in frames[25][1][0].reason
    else:
        assert event_log(frames) == [(0, "born", 1), (10, "occluded", 1), (25, "born", 2)]


def test_crossing_objects_keep_their_ids_through_a_swap():
    # a and b cross; while they overlap, the engine's object on "a" jumps onto "b" (a distractor swap)
    world = {"a": moving_box((20, 100, 60, 140), 60, velocity=(4, 0)),
             "b": moving_box((260, 110, 300, 150), 60, velocity=(-4, 0))}
    engine = ScriptedEngine(world, faults=[Fault("a", start=28, end=40, follow="b", affinity=0.6)])
    frames = run(IdentityManager(), engine, 60, lambda f: world_detections(world, f))

    log = event_log(frames)
    assert log == [(0, "born", 1), (0, "born", 2), (28, "occluded", 1), (29, "reprompted", 1), (29, "resumed", 1)]
    assert frames[28][1][0].reason.startswith("yields to 2")
    np.testing.assert_array_equal(engine.prompts[29][1].box, world["a"][29])
    for f, (detections, _) in enumerate(frames):
        assert detections.tracker_id.tolist() == [1, 2]
        for tracker_id, mine, other in ((1, "a", "b"), (2, "b", "a")):
            r = row(detections, tracker_id)
            if r.data["status"][0] == "tracked":
                assert box_iou(r.xyxy[0], world[mine][f]) > box_iou(r.xyxy[0], world[other][f]), (f, tracker_id)


def test_object_gone_longer_than_max_lost_is_retired_and_its_id_never_reused():
    world = {"a": moving_box((100, 100, 140, 140), 60, hidden=range(10, 50))}
    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 60, lambda f: world_detections(world, f))

    assert IdentityConfig().max_lost == 30
    # occluded from frame 10: its 31st occluded frame is frame 40
    assert event_log(frames) == [(0, "born", 1), (10, "occluded", 1), (40, "lost", 1), (50, "born", 2)]
    assert engine.removed == [1]
    assert frames[39][0].tracker_id.tolist() == [1]
    assert frames[39][0].data["status"].tolist() == ["occluded"]
    for detections, _ in frames[40:50]:
        assert len(detections) == 0 and detections.mask is None
    assert frames[50][0].tracker_id.tolist() == [2]
    assert prompted_frames(engine) == {0: [1], 50: [2]}


def test_drifting_track_is_reprompted_with_its_detection_box():
    world = {"a": moving_box((100, 100, 140, 140), 20)}
    # from frame 10 the engine's mask slides right by 4 px a frame; box IoU with the detection falls below 0.5
    # once the shift exceeds 13.3 px: the mask of frame 13 (16 px), so the re-prompt comes on frame 14
    engine = ScriptedEngine(world, faults=[Fault("a", start=10, drift=(4, 0))])
    frames = run(IdentityManager(), engine, 20, lambda f: world_detections(world, f))

    assert prompted_frames(engine) == {0: [1], 14: [1]}
    np.testing.assert_array_equal(engine.prompts[14][1].box, [100, 100, 140, 140])
    assert event_log(frames) == [(0, "born", 1), (14, "reprompted", 1)]
    assert frames[14][1][0].reason.startswith("drift: box IoU 0.43")
    np.testing.assert_array_equal(frames[13][0].xyxy[0], [116, 100, 156, 140])
    np.testing.assert_array_equal(frames[14][0].xyxy[0], [100, 100, 140, 140])


def test_low_scores_for_a_few_frames_reprompt_from_the_matching_detection():
    world = {"a": moving_box((100, 100, 140, 140), 12)}
    # occurrence 0.6: still visible (>= 0.5) but low (< 0.7) from frame 5; three low frames -> re-prompt on frame 8
    engine = ScriptedEngine(world, faults=[Fault("a", start=5, occurrence=0.6)])
    frames = run(IdentityManager(), engine, 12, lambda f: world_detections(world, f))

    assert prompted_frames(engine) == {0: [1], 8: [1]}
    np.testing.assert_array_equal(engine.prompts[8][1].box, world["a"][8])
    assert event_log(frames) == [(0, "born", 1), (8, "reprompted", 1)]
    assert frames[8][1][0].reason.startswith("low scores for 3 frames")
    assert [d.data["status"][0] for d, _ in frames] == ["tracked"] * 12


def test_detection_over_a_tracked_object_spawns_no_duplicate():
    world = {"a": moving_box((100, 100, 180, 180), 6), "b": moving_box((220, 20, 260, 60), 6, hidden=range(3))}

    def detect(f):
        # from frame 1: the object's own box, a more confident part-box inside it (IoU 0.56 with it, so it passes
        # the match gate but loses the assignment), and b once it appears
        if f == 0:
            return make_detections([world["a"][0]])
        boxes = [world["a"][f], (110, 110, 170, 170)] + ([world["b"][f]] if f >= 3 else [])
        return make_detections(boxes, confidence=[0.9, 0.95, 0.9][: len(boxes)])

    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 6, detect)

    assert event_log(frames) == [(0, "born", 1), (3, "born", 2)]
    assert prompted_frames(engine) == {0: [1], 3: [2]}
    assert engine.object_ids == [1, 2]
    assert frames[5][0].tracker_id.tolist() == [1, 2]


def test_overlapping_detections_on_one_frame_spawn_one_object():
    # before any mask exists, a box mostly inside a box born earlier on the same frame is a duplicate
    world = {"a": moving_box((100, 100, 180, 180), 2)}
    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 2,
                 lambda f: make_detections([(100, 100, 180, 180), (110, 110, 170, 170)], confidence=[0.8, 0.9]))

    assert event_log(frames) == [(0, "born", 1)]
    np.testing.assert_array_equal(engine.prompts[0][1].box, [110, 110, 170, 170])  # the most confident one
    assert frames[1][0].tracker_id.tolist() == [1]


def test_low_confidence_detection_spawns_nothing():
    world = {"a": moving_box((100, 100, 140, 140), 5)}
    engine = ScriptedEngine(world)
    confidences = [0.2, 0.49, 0.49, 0.5, 0.5]
    frames = run(IdentityManager(), engine, 5, lambda f: world_detections(world, f, confidence=confidences[f]))

    assert prompted_frames(engine) == {3: [1]}
    assert event_log(frames) == [(3, "born", 1)]
    assert [len(d) for d, _ in frames] == [0, 0, 0, 1, 1]
    assert frames[4][0].confidence.tolist() == [0.5]


@pytest.mark.parametrize(("class_id", "prompted_id"), [(2, 2), (0, 1), (None, 1)])
def test_detection_of_another_class_does_not_match(class_id, prompted_id):
    # a person (class 0) is seen on frames 0-4, then hidden; on frame 10 an object shows up on its predicted box
    world = {"person": moving_box((100, 100, 140, 140), 5), "newcomer": moving_box((100, 100, 140, 140), 12,
                                                                                  hidden=range(10))}

    def detect(f):
        if f == 0:
            return make_detections([world["person"][0]], class_id=0, class_name="person")
        if f == 10:
            name = None if class_id is None else "car"
            return make_detections([world["newcomer"][10]], class_id=class_id, class_name=name)
        return None

    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 12, detect)

    assert prompted_frames(engine) == {0: [1], 10: [prompted_id]}
    kind = "born" if prompted_id == 2 else "reprompted"
    assert (10, kind, prompted_id) in event_log(frames)
    assert row(frames[11][0], 1).data["class_name"].tolist() == ["person"]
    assert row(frames[11][0], 1).data["status"].tolist() == ["occluded" if prompted_id == 2 else "tracked"]
    assert frames[11][0].tracker_id.tolist() == list(range(1, prompted_id + 1))


def test_overlapping_masks_are_resolved_weaker_yields():
    # b slides onto a (10 px a frame): partial overlap from frame 9, full overlap on frame 16; a is the weaker
    world = {"a": moving_box((40, 40, 120, 120), 20), "b": moving_box((200, 40, 280, 120), 20, velocity=(-10, 0))}
    engine = ScriptedEngine(world, faults=[Fault("a", start=1, affinity=0.7)])
    frames = run(IdentityManager(), engine, 20, lambda f: world_detections(world, f) if f == 0 else None)

    for detections, _ in frames:
        assert detections.mask.sum(axis=0).max() == 1  # no pixel claimed twice
    a_rect = np.zeros((240, 320), dtype=bool)
    a_rect[40:120, 40:120] = True
    b_rect = np.zeros_like(a_rect)
    b_rect[40:120, 100:180] = True  # b on frame 10
    np.testing.assert_array_equal(row(frames[10][0], 1).mask[0], a_rect & ~b_rect)
    np.testing.assert_array_equal(row(frames[10][0], 2).mask[0], b_rect)
    np.testing.assert_array_equal(row(frames[10][0], 1).xyxy[0], [40, 40, 100, 120])
    # mask IoU 0.78 on frames 15 and 17, 1.0 on frame 16
    assert event_log(frames) == [(0, "born", 1), (0, "born", 2), (16, "occluded", 1), (17, "resumed", 1)]
    assert frames[16][1][0].reason == "yields to 2 (mask IoU 1.00 > 0.8)"
    assert not row(frames[16][0], 1).mask.any()


def test_low_scores_without_detection_reprompt_from_point_tracks():
    world = {"a": moving_box((100, 100, 140, 140), 12)}
    points = np.array([[120, 120], [110, 130], [10, 10]], dtype=np.float32)
    labels = np.array([1, 1, 0])
    # affinity 0.3 from frame 5; the detector only runs on frame 0
    engine = ScriptedEngine(world, faults=[Fault("a", start=5, affinity=0.3)])
    frames = run(IdentityManager(), engine, 12, lambda f: world_detections(world, f) if f == 0 else None,
                 points=lambda f: {1: (points, labels)})

    assert prompted_frames(engine) == {0: [1], 8: [1]}
    prompt = engine.prompts[8][1]
    assert prompt.box is None
    np.testing.assert_array_equal(prompt.points, points)
    np.testing.assert_array_equal(prompt.labels, labels)
    assert event_log(frames) == [(0, "born", 1), (8, "reprompted", 1)]
    assert "re-prompted from 3 point tracks" in frames[8][1][0].reason
    assert frames[8][0].data["affinity"].tolist() == [pytest.approx(0.9)]  # the re-prompt repaired it

    # without point tracks there is nothing to re-prompt from
    engine = ScriptedEngine(world, faults=[Fault("a", start=5, affinity=0.3)])
    frames = run(IdentityManager(), engine, 12, lambda f: world_detections(world, f) if f == 0 else None)
    assert prompted_frames(engine) == {0: [1]}
    assert frames[11][0].data["affinity"].tolist() == [pytest.approx(0.3)]


def test_a_removed_object_leaves_at_once_and_its_id_is_never_reused():
    world = {"a": moving_box((20, 100, 60, 140), 10), "b": moving_box((200, 20, 240, 60), 10)}
    engine = ScriptedEngine(world, faults=[Fault("a", start=2, drift=(15, 0))])
    manager = IdentityManager()
    run(manager, engine, 3, lambda f: world_detections(world, f))
    prompts = manager.plan(world_detections(world, 3))
    assert 1 in prompts  # re-prompted for its drift...
    assert manager.remove(1, engine) and not manager.remove(7, engine)
    prompts.pop(1)  # ...but removed before the engine saw the prompt
    detections, events = manager.observe(engine.step(None, prompts), engine)
    assert detections.tracker_id.tolist() == [2] and [(e.kind, e.tracker_id) for e in events] == [("removed", 1)]
    assert engine.removed == [1]
    # its object, detected again, is a new object with a new ID
    frames = run(manager, engine, 1, lambda f: world_detections(world, 4))
    assert event_log(frames) == [(0, "born", 3)]
    with pytest.raises(RuntimeError, match="between plan"):
        manager.remove(2, engine)


def test_every_decision_appears_as_an_event():
    world = {"a": moving_box((20, 100, 60, 140), 40, velocity=(2, 0), hidden=range(10, 14)),
             "b": moving_box((200, 20, 240, 60), 40, hidden=(*range(3), *range(25, 40)))}
    engine = ScriptedEngine(world, faults=[Fault("a", start=20, drift=(5, 0))])
    frames = run(IdentityManager(IdentityConfig(max_lost=5)), engine, 40, lambda f: world_detections(world, f))

    assert {kind for _, kind, _ in event_log(frames)} == set(EVENT_KINDS) - {"reidentified"}  # see test_reid.py
    previous: dict[int, str] = {}
    for f, (detections, events) in enumerate(frames):
        ids_of = lambda kind: sorted(e.tracker_id for e in events if e.kind == kind)  # noqa: E731
        assert sorted(engine.prompts[f]) == sorted(ids_of("born") + ids_of("reprompted")), f
        assert ids_of("born") == sorted(set(engine.prompts[f]) - set(previous)), f
        status = dict(zip(detections.tracker_id.tolist(), detections.data["status"].tolist()))
        assert ids_of("lost") == sorted(set(previous) - set(status)), f
        assert ids_of("occluded") == sorted(i for i, s in status.items() if s == "occluded"
                                            and previous.get(i, "tracked") == "tracked"), f
        assert ids_of("resumed") == sorted(i for i, s in status.items() if s == "tracked"
                                           and previous.get(i) == "occluded"), f
        previous = status
    assert engine.removed == [i for _, kind, i in event_log(frames) if kind == "lost"]


def test_output_rows_carry_detection_class_confidence_and_scores():
    world = {"a": moving_box((100, 100, 140, 140), 3)}
    engine = ScriptedEngine(world)
    frames = run(IdentityManager(), engine, 3,
                 lambda f: world_detections(world, f, confidence=[0.8, 0.9, 0.7][f], class_id=3, class_name="dog"))

    detections = frames[2][0]
    assert detections.tracker_id.tolist() == [1]
    assert detections.confidence.tolist() == [pytest.approx(0.7)]
    assert detections.class_id.tolist() == [3]
    assert detections.data["class_name"].tolist() == ["dog"]
    assert detections.data["affinity"].tolist() == [pytest.approx(0.9)]
    assert detections.data["occurrence"].tolist() == [pytest.approx(0.95)]
    assert np.isnan(detections.data["motion"][0])
    assert detections.mask.shape == (1, 240, 320)
    assert detections.mask[0].sum() == 40 * 40


def test_misuse_gives_clear_errors():
    manager, engine = IdentityManager(), ScriptedEngine({"a": moving_box((0, 0, 10, 10), 3)})
    with pytest.raises(RuntimeError, match="without plan"):
        manager.observe({}, engine)
    manager.plan(make_detections([(0, 0, 10, 10)]))
    with pytest.raises(RuntimeError, match="called twice"):
        manager.plan(None)
    with pytest.raises(ValueError, match=r"no state for tracker IDs \[1\]"):
        manager.observe({}, engine)
    with pytest.raises(ValueError, match="match_iou must be between 0 and 1"):
        IdentityConfig(match_iou=1.5)
    with pytest.raises(ValueError, match="max_lost"):
        IdentityConfig(max_lost=-1)
