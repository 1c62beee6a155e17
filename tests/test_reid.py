"""Long-term re-identification: galleries stay small and diverse, a returning object takes its old ID back (and only
a clear match does), every output carries the revived ID, and the user can merge and split IDs (the console's side:
tests/test_serve_reid.py). Decisions are driven through the scripted engine, whose objects report the look of what
they show as their embedding."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fakes import Fault, FunctionPrompter, ScriptedEngine, moving_box, world_detections

from autotrack.config import ConfigError, ReidConfig, from_dict
from autotrack.eval.mot import read_mot_file
from autotrack.eval.vos import read_label_map
from autotrack.identity import IdentityConfig, IdentityManager
from autotrack.pipeline import Pipeline
from autotrack.points.tracker import PointTracker
from autotrack.reid import Candidate, Gallery, Reidentifier
from autotrack.sinks import CocoJsonSink, DavisPngSink, MotSink
from autotrack.sources import ArraySource


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def look(seed: int, dim: int = 32) -> np.ndarray:
    return unit(*np.random.default_rng(seed).normal(size=dim))


def blend(a: np.ndarray, b: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at this cosine similarity with `a`, towards `b`."""
    orthogonal = b - (b @ a) * a
    return unit(*(cosine * a + np.sqrt(1 - cosine**2) * orthogonal / np.linalg.norm(orthogonal)))


def inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    return (points[:, 0] >= box[0]) & (points[:, 0] <= box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] <= box[3])


def run(manager, engine, num_frames, detect):
    frames = []
    for f in range(num_frames):
        prompts = manager.plan(detect(f))
        frames.append(manager.observe(engine.step(None, prompts), engine))
    return frames


def event_log(frames):
    return [(f, e.kind, e.tracker_id) for f, (_, events) in enumerate(frames) for e in events]


def reid_manager(**config) -> IdentityManager:
    return IdentityManager(IdentityConfig(max_lost=30), Reidentifier(ReidConfig(enabled=True, **config)))


# ------------------------------------------------------------------------------------------------------- gallery
def test_gallery_is_bounded_and_keeps_diverse_embeddings():
    gallery = Gallery(size=4, diversity=0.05)
    assert gallery.add(unit(1, 0, 0)) and not gallery.add(unit(1, 0.01, 0))  # a near copy adds nothing
    for seed in range(50):
        gallery.add(look(seed, dim=3))
    assert len(gallery) == 4
    similar = gallery.vectors @ gallery.vectors.T
    np.fill_diagonal(similar, -1)
    assert similar.max() < 0.95  # spread out, not 4 near copies
    assert gallery.similarity(gallery.vectors[2]) == pytest.approx(1.0)


def test_a_full_gallery_replaces_its_most_redundant_embedding():
    gallery = Gallery(size=3, diversity=0.01)
    for vector in (unit(1, 0, 0), unit(1, 0.2, 0), unit(0, 1, 0)):
        assert gallery.add(vector)
    assert gallery.add(unit(0, 0, 1))  # far from all: takes the place of one of the two close ones
    assert len(gallery) == 3 and gallery.similarity(unit(0, 0, 1)) == pytest.approx(1.0)
    assert gallery.similarity(unit(0, 1, 0)) == pytest.approx(1.0)
    assert not gallery.add(unit(0.1, 0.1, 1))  # closer to a kept one than any kept pair is: refused


def test_memory_stays_flat_on_an_endless_stream_of_objects():
    reid = Reidentifier(ReidConfig(enabled=True, max_objects=5, keep_seconds=1000.0, gallery_size=3))
    for f in range(400):  # a new object every 4 frames, each seen for 4 frames then gone
        tracker_id = f // 4
        reid.update({tracker_id: Candidate(look(f), 0)}, live={tracker_id})
        assert len(reid.known_ids) <= 6 and all(len(reid.gallery(i)) <= 3 for i in reid.known_ids)
    assert reid.known_ids == list(range(94, 100))  # the 5 most recently seen retired ones, and the live one


def test_retired_objects_expire_keep_seconds_after_they_were_last_seen_on_the_frames_timestamps():
    reid = Reidentifier(ReidConfig(enabled=True, keep_seconds=2.0))
    reid.update({1: Candidate(look(1))}, live={1}, timestamp=10.0)  # seen at 10 s, retired from the next frame
    for timestamp in (10.5, 11.9, 12.0):  # a live stream's frames as they came, however many were dropped between
        reid.update({}, live=set(), timestamp=timestamp)
    assert reid.known_ids == [1] and reid.match({2: Candidate(look(1))})[0].frames_away == 4
    reid.update({}, live=set(), timestamp=12.1)
    assert reid.known_ids == [] and reid.match({2: Candidate(look(1))}) == []


def test_frames_without_a_timestamp_count_at_the_given_rate():
    reid = Reidentifier(ReidConfig(enabled=True, keep_seconds=1.0), fps=10.0)
    reid.update({1: Candidate(look(1))}, live={1})  # frame 0: 0 s
    for _ in range(10):  # frames 1 to 10: up to 1 s after it was last seen
        reid.update({}, live=set())
    assert reid.known_ids == [1]
    reid.update({}, live=set())  # 1.1 s
    assert reid.known_ids == []


# ----------------------------------------------------------------------------------------- identity decisions
def test_object_back_after_200_frames_takes_its_id_again():
    world = {"a": moving_box((20, 100, 60, 140), 260, velocity=(0.5, 0), hidden=range(10, 210)),
             "b": moving_box((200, 20, 240, 60), 260)}
    engine = ScriptedEngine(world, looks={"a": look(1), "b": look(2)}, look_noise=0.05)
    frames = run(reid_manager(), engine, 260, lambda f: world_detections(world, f))

    log = event_log(frames)
    assert log == [(0, "born", 1), (0, "born", 2), (10, "occluded", 1), (40, "lost", 1), (210, "reidentified", 1)]
    # last seen on frame 9; its noisy looks are about 0.96 similar to each other
    assert re.fullmatch(r"re-identified #1 after 201 frames \(similarity 0\.9\d\)", frames[210][1][0].reason)
    # the engine was prompted under a provisional ID (3), then follows the object under its old one
    assert sorted(engine.prompts[210]) == [3] and engine.renamed == [(3, 1)] and engine.bindings[1] == "a"
    for f in range(210, 260):
        assert frames[f][0].tracker_id.tolist() == [1, 2]
        assert frames[f][0].data["status"].tolist() == ["tracked", "tracked"]


def test_without_reid_the_returning_object_is_new():
    world = {"a": moving_box((20, 100, 60, 140), 100, hidden=range(10, 60))}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    frames = run(IdentityManager(), engine, 100, lambda f: world_detections(world, f))
    assert event_log(frames)[-1] == (60, "born", 2)


def two_away(look_a, look_b, look_back, **config):
    """a and b are seen, both leave and are retired; `back` enters later where neither was. Returns the events of
    that frame as (kind, tracker ID), and their reasons."""
    world = {"a": moving_box((20, 20, 60, 60), 120, hidden=range(10, 120)),
             "b": moving_box((200, 20, 240, 60), 120, hidden=range(10, 120)),
             "back": moving_box((100, 150, 140, 190), 120, hidden=range(0, 80))}
    engine = ScriptedEngine(world, looks={"a": look_a, "b": look_b, "back": look_back})
    frames = run(reid_manager(**config), engine, 120, lambda f: world_detections(world, f, class_id=0))
    return [(e.kind, e.tracker_id) for e in frames[80][1]], [e.reason for e in frames[80][1]]


def test_refuses_when_two_old_objects_are_almost_as_similar():
    a = look(1)
    b = blend(a, look(2), 0.97)  # a look-alike of a
    back = unit(*(a + b))
    events, reasons = two_away(a, b, back)
    assert events == [("born", 3)]  # similar to both (0.99): a coin toss is not a revival
    assert reasons[0].endswith("; not re-identified: #1 at 0.99 and #2 at 0.99 are within the margin 0.05")
    assert two_away(a, b, back, margin=0.0)[0] in ([("reidentified", 1)], [("reidentified", 2)])


def test_refuses_below_the_threshold():
    a, b, other = look(1), look(3), look(2)
    below, above = blend(a, other, 0.75), blend(a, other, 0.85)
    assert below @ b < 0.5 and above @ b < 0.5
    events, reasons = two_away(a, b, below)
    assert events == [("born", 3)]  # threshold 0.8
    assert reasons[0].endswith("; not re-identified: most similar #1 at 0.75 < threshold 0.8")
    assert two_away(a, b, above)[0] == [("reidentified", 1)]


def test_never_revives_an_object_of_another_class():
    world = {"a": moving_box((20, 20, 60, 60), 100, hidden=range(10, 60))}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    classes = lambda f: 0 if f < 50 else 1  # noqa: E731  # the detector now calls it something else
    frames = run(reid_manager(), engine, 100, lambda f: world_detections(world, f, class_id=classes(f)))
    assert event_log(frames)[-1] == (60, "born", 2)


def test_an_object_the_user_removed_is_never_revived():
    world = {"a": moving_box((20, 20, 60, 60), 70, hidden=range(6, 60))}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    manager = reid_manager()
    run(manager, engine, 5, lambda f: world_detections(world, f))
    manager.plan(world_detections(world, 5))
    assert manager.remove(1, engine) and manager.reid.known_ids == []  # removed on frame 5
    manager.observe(engine.step(None, {}), engine)
    frames = run(manager, engine, 64, lambda f: world_detections(world, f + 6))
    assert event_log(frames) == [(54, "born", 2)]  # back on frame 60: a new object


@pytest.mark.parametrize("fps, kind, tracker_id", [(30.0, "reidentified", 1), (10.0, "born", 2)])
def test_an_object_away_longer_than_keep_seconds_is_new(fps, kind, tracker_id):
    # last seen on frame 9, back on frame 60: 51 frames, 1.7 s at 30 fps (kept 2 s), 5.1 s at 10 fps (forgotten)
    world = {"a": moving_box((20, 20, 60, 60), 70, hidden=range(10, 60))}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    frames = ArraySource([np.zeros((240, 320, 3), np.uint8)] * 70, fps=fps)
    prompter = FunctionPrompter(lambda frame, f: world_detections(world, f))
    results = list(Pipeline(frames, prompter, engine, identity=reid_manager(keep_seconds=2.0)).stream())
    assert [(e.kind, e.tracker_id) for e in results[60].events] == [(kind, tracker_id)]


@pytest.mark.parametrize("where, motion_frames, revived", [
    ((90, 20, 130, 60), 30, True),  # 1.75 box sizes from where it stood still: a plausible step
    ((250, 180, 290, 220), 30, False),  # across the frame, 7 box sizes away, 11 frames later: not the same object
    ((250, 180, 290, 220), 5, True),  # a gap longer than motion_frames: appearance alone decides
])
def test_an_occluded_object_seen_elsewhere_is_revived_before_it_is_lost_where_its_motion_allows(where, motion_frames,
                                                                                                revived):
    # a hides on frame 10 and shows up on frame 20 where its coasting box cannot match it (IoU 0)
    world = {"a": [*moving_box((20, 20, 60, 60), 10), *[None] * 10, *moving_box(where, 30)]}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    frames = run(reid_manager(motion_frames=motion_frames), engine, 50, lambda f: world_detections(world, f))

    if not revived:
        assert "reidentified" not in {kind for _, kind, _ in event_log(frames)} and engine.renamed == []
        assert (frames[20][1][0].kind, frames[20][1][0].tracker_id) == ("born", 2)
        assert frames[20][1][0].reason.endswith("; not re-identified: #1, last seen 11 frames before, would be 7.0 "
                                                "box sizes from where its motion leads (> motion_distance 2.0)")
        return
    assert event_log(frames) == [(0, "born", 1), (10, "occluded", 1), (20, "reidentified", 1)]
    assert engine.removed == [1] and engine.renamed == [(2, 1)]  # its old engine object gave way
    assert all(d.tracker_id.tolist() == [1] for d, _ in frames)
    assert frames[30][0].data["status"].tolist() == ["tracked"]


def test_after_a_short_gap_the_old_object_is_looked_for_where_its_last_velocity_leads():
    reid = Reidentifier(ReidConfig(enabled=True))
    box = np.array([0, 0, 40, 40], np.float32)
    for f in range(5):  # moving right 10 px a frame; the motion model predicts the next frame's box
        reid.update({1: Candidate(look(1), 0, box + [10 * f, 0, 10 * f, 0], box + [10 * f + 10, 0, 10 * f + 10, 0])},
                    live={1})
    for _ in range(20):
        reid.update({}, live=set())
    # last seen on frame 4 at x 40 to 80; on frame 25 its motion leads to x 250 to 290
    ahead = reid.match({2: Candidate(look(1), 0, box + [250, 0, 250, 0])})[0]
    behind = reid.match({2: Candidate(look(1), 0, box + [40, 0, 40, 0])})[0]  # where it was last seen
    assert ahead.old_id == 1 and ahead.refused == ""
    assert behind.old_id is None and "#1, last seen 21 frames before, would be 5." in behind.refused


def test_an_occluded_object_that_resumes_is_not_taken_by_a_look_alike_born_on_the_same_frame():
    world = {"a": moving_box((20, 20, 60, 60), 40, hidden=range(10, 20)),
             "twin": moving_box((200, 150, 240, 190), 40, hidden=range(20))}
    engine = ScriptedEngine(world, looks={"a": look(1), "twin": look(1)})
    frames = run(reid_manager(), engine, 40, lambda f: world_detections(world, f))
    assert [(kind, i) for f, kind, i in event_log(frames) if f == 20] == [("reprompted", 1), ("born", 2),
                                                                          ("resumed", 1)]
    assert engine.bindings == {1: "a", 2: "twin"} and engine.removed == []


def test_an_object_back_on_the_spot_of_another_just_lost_takes_its_own_id_not_that_one():
    # a leaves (retired); b is seen on the same spot, then hidden; a comes back there while b is still occluded
    world = {"a": moving_box((200, 20, 240, 60), 120, hidden=range(10, 85)),
             "b": moving_box((200, 20, 240, 60), 120, hidden=[*range(50), *range(80, 120)])}
    engine = ScriptedEngine(world, looks={"a": look(1), "b": look(2)}, look_noise=0.05)
    frames = run(reid_manager(), engine, 120, lambda f: world_detections(world, f))
    # on position alone a would re-enter as #2 (reprompted, resumed); its look says it is #1
    assert [(kind, i) for f, kind, i in event_log(frames) if f == 85] == [("reidentified", 1)]
    assert re.fullmatch(r"re-identified #1 after 76 frames \(similarity 0\.9\d\); it had re-entered on #2's "
                        r"predicted box \(similarity -?0\.\d\d\)", frames[85][1][0].reason)
    assert engine.renamed == [(2, 1)] and engine.bindings[1] == "a"
    assert all(frames[f][0].tracker_id.tolist() == [1] for f in range(85, 120))


def test_galleries_take_only_reliable_frames():
    # b is partly under a (a stronger object keeps the shared pixels), more than 10% of it until frame 5 (a 6 px
    # strip of its 60 px); c, detected on frame 0 only, has low scores from frame 1 on
    world = {"a": moving_box((20, 20, 80, 80), 20), "b": moving_box((50, 20, 110, 80), 20, velocity=(4, 0)),
             "c": moving_box((200, 150, 240, 190), 20)}
    engine = ScriptedEngine(world, faults=[Fault("c", start=1, affinity=0.3)],
                            looks={"a": look(1), "b": look(2), "c": look(3)}, look_noise=0.3)
    manager = reid_manager(gallery_size=20, diversity=0.0)
    detected = {"a": world["a"], "b": world["b"]}
    run(manager, engine, 20, lambda f: world_detections(world if f == 0 else detected, f))
    assert [len(manager.reid.gallery(i)) for i in (1, 2, 3)] == [20, 20 - 6, 1]


def test_two_newcomers_never_take_the_same_id():
    world = {"a": moving_box((20, 20, 60, 60), 80, hidden=range(10, 80)),
             "twin1": moving_box((100, 150, 140, 190), 80, hidden=range(60)),
             "twin2": moving_box((200, 150, 240, 190), 80, hidden=range(60))}
    engine = ScriptedEngine(world, looks={"a": look(1), "twin1": look(1), "twin2": look(1)})
    frames = run(reid_manager(), engine, 80, lambda f: world_detections(world, f))
    assert sorted(kind for f, kind, _ in event_log(frames) if f == 60) == ["born", "reidentified"]


# ------------------------------------------------------------------------------------------------------ outputs
def test_every_output_carries_the_revived_id(tmp_path):
    world = {"a": moving_box((20, 100, 60, 140), 120, velocity=(1, 0), hidden=range(10, 80))}
    engine = ScriptedEngine(world, looks={"a": look(1)})
    frames = [np.zeros((240, 320, 3), np.uint8)] * 120
    prompter = FunctionPrompter(lambda frame, f: world_detections(world, f))
    sinks = [MotSink(tmp_path / "o.txt"), CocoJsonSink(tmp_path / "o.json"), DavisPngSink(tmp_path / "masks")]
    pipeline = Pipeline(frames, prompter, engine, sinks, identity=reid_manager())
    summary = pipeline.run()

    assert summary.events["reidentified"] == 1 and summary.events["born"] == 1 and summary.objects == 1
    rows = read_mot_file(tmp_path / "o.txt", min_columns=10)
    assert set(rows[:, 1].astype(int)) == {1} and 81 in rows[:, 0]  # MOT frames are 1-based
    coco = json.loads((tmp_path / "o.json").read_text())
    assert {a["track_id"] for a in coco["annotations"]} == {1}
    assert max(a["image_id"] for a in coco["annotations"]) == 120
    assert json.loads((tmp_path / "masks" / "objects.json").read_text()) == {"1": {"id": 1, "class": "object"}}
    assert np.unique(read_label_map(tmp_path / "masks" / "00100.png")).tolist() == [0, 1]


def test_a_revived_object_gets_fresh_points_under_its_old_id():
    world = {"a": moving_box((20, 100, 60, 140), 60, hidden=range(10, 45)),
             "b": moving_box((200, 20, 240, 60), 60)}
    engine = ScriptedEngine(world, looks={"a": look(1), "b": look(2)})
    texture = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)  # points need texture
    prompter = FunctionPrompter(lambda frame, f: world_detections(world, f))
    pipeline = Pipeline([texture] * 60, prompter, engine, identity=reid_manager(), points=PointTracker("lk"))
    results = list(pipeline.stream())

    assert [(e.kind, e.tracker_id) for e in results[45].events] == [("reidentified", 1)]
    tracks = pipeline.points.tracker.tracks
    assert sorted(tracks) == [1, 2] and inside(tracks[1].points[tracks[1].labels == 1], world["a"][59]).all()


# ------------------------------------------------------------------------------------------ merge and split by hand
def test_the_user_merges_a_missed_return_and_splits_it_off_again(tmp_path):
    # a leaves on frame 10 and comes back on frame 60 looking too different to be revived (0.7 < threshold 0.8)
    back = [*moving_box((20, 100, 60, 140), 10), *[None] * 50, *moving_box((200, 100, 240, 140), 40)]
    world = {"a": back, "b": moving_box((200, 20, 240, 60), 100)}
    engine = ScriptedEngine(world, looks={"a": look(1), "b": look(2)})
    prompter = FunctionPrompter(lambda frame, f: world_detections(world, f))
    sink = MotSink(tmp_path / "o.txt")
    pipeline = Pipeline([np.zeros((240, 320, 3), np.uint8)] * 100, prompter, engine, [sink], identity=reid_manager())
    ids, events, new_id = {}, {}, None
    for result in pipeline.stream():
        f = result.frame_index
        ids[f] = result.detections.tracker_id.tolist()
        events[f] = [(e.kind, e.tracker_id, e.reason) for e in result.events]
        if f == 59:
            engine.looks["a"] = blend(look(1), look(5), 0.7)  # from frame 60 on a looks different
        if f == 69:
            pipeline.merge(1, 3)  # a came back as #3: the user says it is #1
        if f == 79:
            new_id = pipeline.split(1)  # and takes it back: a new object after all
    assert [k for k, i, _ in events[60]] == ["born"] and ids[69] == [2, 3]
    assert events[70] == [("merged", 1, "merged by the user: #3 is #1; ID 3 retired")]
    assert ids[70] == [1, 2] and ids[79] == [1, 2] and engine.renamed[0] == (3, 1)
    assert new_id == 4 and events[80] == [("split", 4, "split by the user from #1: a new object, not #1 after all")]
    assert ids[80] == [2, 4] and ids[99] == [2, 4]
    entries = {e.tracker_id: e for e in pipeline.identity.reid.entries()}
    assert not entries[1].live and entries[1].last_seen == 9 and entries[1].revived_on is None
    assert entries[4].live and entries[4].last_seen == 99 and 3 not in entries
    rows = read_mot_file(tmp_path / "o.txt", min_columns=10)
    ids_on = lambda f: {int(i) for frame, i in rows[:, :2] if frame == f + 1}  # noqa: E731  # MOT frames are 1-based
    assert ids_on(79) == {1, 2} and ids_on(80) == {2, 4}


def test_a_split_gives_the_new_id_what_was_seen_since_the_revival_and_the_old_one_what_it_was():
    reid = Reidentifier(ReidConfig(enabled=True, diversity=0.0))
    for f in range(3):  # #1 seen on frames 0 to 2, then gone
        reid.update({1: Candidate(blend(look(1), look(10 + f), 0.95))}, live={1}, timestamp=f / 10)
    reid.update({}, live=set(), timestamp=1.0)
    assert reid.match({2: Candidate(look(1))})[0].old_id == 1  # frame 4: a newcomer revives #1 ...
    for f in range(4, 6):  # ... and is seen as #1 on frames 4 and 5
        reid.update({1: Candidate(blend(look(1), look(20 + f), 0.9))}, live={1}, timestamp=f / 10)
    assert len(reid.gallery(1)) == 5 and reid.entries()[0].revived_on == 4
    assert reid.split(1, 3) and not reid.split(2, 4)  # #2 is unknown: nothing to split
    old, new = reid.entries()
    assert (old.tracker_id, old.live, old.last_seen, old.embeddings, old.revived_on) == (1, False, 2, 3, None)
    assert (new.tracker_id, new.live, new.last_seen, new.embeddings, new.revived_on) == (3, True, 5, 2, None)
    assert not reid.split(1, 5)  # already undone

    assert reid.merge(1, 3)  # the user changes their mind: #3 is #1 after all
    (merged,) = reid.entries()
    assert (merged.tracker_id, merged.live, merged.last_seen, merged.embeddings) == (1, True, 5, 5)
    assert merged.revived_on == 6  # the frame being decided: a merge can be split off again


# ------------------------------------------------------------------------------------------------------- config
def test_reid_config_section():
    config = from_dict({"reid": {"enabled": True, "threshold": 0.9, "keep_seconds": 60}})
    assert config.reid == ReidConfig(enabled=True, threshold=0.9, keep_seconds=60.0)
    assert from_dict({}).reid.enabled is False
    with pytest.raises(ConfigError, match="reid: embedding must be one of features, pointer"):
        from_dict({"reid": {"embedding": "osnet"}})
    with pytest.raises(ConfigError, match="reid.max_objects must be at least 1"):
        from_dict({"reid": {"max_objects": 0}})
    with pytest.raises(ConfigError, match="reid.keep_seconds must be positive, got 0"):
        from_dict({"reid": {"keep_seconds": 0}})
