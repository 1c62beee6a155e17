"""The point tracker wired into the pipeline: points seeded, re-seeded and dropped with the objects, a failing track
re-prompted from them, the `points` config section and `autotrack track -p points-sam2`.

The frames are real pixels (the synthetic "occlusion" clip: a textured disc passes behind a striped bar), so the
Lucas-Kanade points really move; the scripted engine stands in for SAM2 with the clip's ground-truth boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from click.testing import CliRunner
from supervision import box_iou

from autotrack.cli import main
from autotrack.config import ConfigError, PointsConfig, from_dict, load_config
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.identity import IdentityConfig, IdentityManager
from autotrack.pipeline import Pipeline, build_points
from autotrack.points.tracker import PointTracker
from autotrack.prompters.manual import ManualPrompts
from tests.fakes import Fault, FunctionPrompter, ScriptedEngine, moving_box, world_detections


@dataclass
class Clip:
    frames: list[np.ndarray]
    world: dict[str, list[np.ndarray | None]]  # ground-truth boxes of the visible part, None while hidden
    disc_masks: list[np.ndarray]  # the disc's visible pixels per frame


@pytest.fixture(scope="module")
def clip() -> Clip:
    scenario = make_scenario("occlusion", n_frames=60, size=(320, 240), seed=0)
    clip = Clip([], {"disc": [], "bar": []}, [])
    for index in range(scenario.n_frames):
        frame, truth = render_frame(scenario, index)
        boxes = dict(zip(truth.ids.tolist(), truth.boxes))
        masks = dict(zip(truth.ids.tolist(), truth.masks))
        clip.frames.append(frame)
        clip.world["disc"].append(boxes.get(1))
        clip.world["bar"].append(boxes.get(2))
        clip.disc_masks.append(masks.get(1, np.zeros(frame.shape[:2], bool)))
    return clip


def click_on_disc(clip: Clip) -> ManualPrompts:
    """The user clicks the disc's centre on the first frame, as `--points "x,y"` does."""
    x0, y0, x1, y1 = clip.world["disc"][0]
    return ManualPrompts.from_options(points=[f"{(x0 + x1) / 2},{(y0 + y1) / 2}"])


def inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    return (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)


FAULT = Fault("disc", start=5, end=20, affinity=0.2, drift=(10.0, 0.0))  # low scores and a mask drifting right
REPROMPT_FRAME = FAULT.start + IdentityConfig().low_score_frames


def run_failing_track(clip: Clip, points: PointTracker | None) -> tuple[ScriptedEngine, list]:
    engine = ScriptedEngine(clip.world, faults=[FAULT])
    pipeline = Pipeline(clip.frames[:16], None, engine, prompts=click_on_disc(clip), points=points)
    return engine, list(pipeline.stream())


def test_a_failing_track_is_reprompted_from_its_points_and_keeps_its_id(clip):
    engine, results = run_failing_track(clip, PointTracker("lk"))

    prompted = {frame: prompts for frame, prompts in enumerate(engine.prompts) if prompts}
    assert sorted(prompted) == [0, REPROMPT_FRAME]
    prompt = prompted[REPROMPT_FRAME][1]
    assert prompt.box is None and prompt.mask is None
    positives = prompt.points[prompt.labels == 1]
    assert len(positives) >= 4
    assert inside(positives, clip.world["disc"][REPROMPT_FRAME]).all(), "points stayed on the disc, not the drift"
    reprompts = [(r.frame_index, e.tracker_id) for r in results for e in r.events if e.kind == "reprompted"]
    assert reprompts == [(REPROMPT_FRAME, 1)]
    assert all(r.detections.tracker_id.tolist() == [1] for r in results)
    assert box_iou(results[-1].detections.xyxy[0], clip.world["disc"][15]) > 0.9  # repaired


def test_without_a_point_tracker_the_same_failure_is_never_repaired(clip):
    engine, results = run_failing_track(clip, None)

    assert [frame for frame, prompts in enumerate(engine.prompts) if prompts] == [0]
    assert box_iou(results[-1].detections.xyxy[0], clip.world["disc"][15]) < 0.3


def test_points_are_reseeded_from_the_mask_after_a_full_occlusion(clip):
    engine = ScriptedEngine(clip.world)
    points = PointTracker("lk")
    pipeline = Pipeline(clip.frames, None, engine, prompts=click_on_disc(clip), points=points)
    results = list(pipeline.stream())

    kinds = [e.kind for r in results for e in r.events]
    assert [k for k in kinds if k in ("occluded", "resumed")] == ["occluded", "resumed"]
    # points that outlived the occlusion slid onto the bar: they must not re-prompt the disc's ID onto it
    assert [frame for frame, prompts in enumerate(engine.prompts) if prompts] == [0]
    track = points.tracks[1]
    on_disc = track.points[track.visible & (track.labels == 1)]
    assert len(on_disc) >= points.min_visible  # Lucas-Kanade never revives a lost point: these are fresh
    x, y = np.round(on_disc).astype(int).T
    assert clip.disc_masks[-1][y, x].mean() >= 0.9


def test_births_get_points_with_negatives_on_their_neighbour_and_lost_objects_drop_them(clip):
    n = 8
    world = {"a": moving_box((100, 60, 150, 120), n), "b": moving_box((154, 60, 204, 120), n, hidden=range(3, n))}
    engine = ScriptedEngine(world)

    def find_both(frame, index):  # finds both objects on the first frame only
        return world_detections(world, index) if index == 0 else None

    detector = FunctionPrompter(find_both)

    points = PointTracker("lk", num_points=12, num_negatives=4)
    identity = IdentityManager(IdentityConfig(max_lost=1))
    stream = Pipeline([clip.frames[0]] * n, detector, engine, identity=identity, points=points).stream()
    next(stream)

    assert sorted(points.tracks) == [1, 2]
    for obj_id, own, other in ((1, "a", "b"), (2, "b", "a")):
        track = points.tracks[obj_id]
        positives, negatives = track.points[track.labels == 1], track.points[track.labels == 0]
        assert len(positives) == 12 and inside(positives, world[own][0]).all()
        assert len(negatives) > 0 and inside(negatives, world[other][0]).all()

    lost = [e.tracker_id for result in stream for e in result.events if e.kind == "lost"]
    assert lost == [2]
    assert sorted(points.tracks) == [1]


def test_points_section_parses_and_builds_the_prompter():
    config = from_dict({"points": {"backend": "lk", "num_points": 10, "num_negatives": 2, "min_visible": 3}})
    assert config.points == PointsConfig("lk", 10, 2, 3)
    prompter = build_points(config)
    assert (prompter.num_points, prompter.num_negatives, prompter.min_visible) == (10, 2, 3)
    assert from_dict({"points": None}).points is None
    assert load_config("yolo-sam2").points is None  # other pipelines have no point tracker
    assert load_config("points-sam2").points == PointsConfig("lk")
    assert load_config("manual-sam2", {"points.num_points": 8}).points == PointsConfig("lk", num_points=8)


@pytest.mark.parametrize("section, message", [
    ({"backend": "raft"}, "points: backend must be one of lk, cotracker, got 'raft'"),
    ({"num_points": 0}, "num_points must be >= 1"),
    ({"num_points": "many"}, "num_points must be int"),
    ({"min_visible": 2.5}, "min_visible must be an integer or null"),
    ({"speed": 1}, "unknown key(s) ['speed']"),
])
def test_bad_points_section_is_a_one_line_error(section, message):
    with pytest.raises(ConfigError) as error:
        from_dict({"points": section})
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    scenario = make_scenario("occlusion", n_frames=4, size=(96, 64), seed=0)
    files = write_scenario(scenario, tmp_path_factory.mktemp("clip"))
    x0, y0, x1, y1 = scenario.object_by_role("occluded").boxes[0]
    return files.video, f"{(x0 + x1) // 2},{(y0 + y1) // 2}", f"{x0},{y0},{x1},{y1}"


@pytest.mark.parametrize("option", ["--points", "--box"])
def test_track_cli_follows_the_clicked_or_boxed_object(small_video, tmp_path, option):
    video, click, box = small_video
    out = tmp_path / "out.txt"
    args = ["track", str(video), "-p", "points-sam2", option, click if option == "--points" else box,
            "--sam-weights", "random", "--imgsz", "64", "--device", "cpu", "--mot", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = np.loadtxt(out, delimiter=",", ndmin=2)
    assert (rows[:, 1] == 1).any() and set(rows[:, 1]) == {1}
    assert sorted(set(rows[:, 0])) == [1, 2, 3, 4]


@pytest.mark.parametrize("option, message", [
    (["--points", "10,x"], "--points '10,x': not a list of numbers"),
    (["--points", "10,20,1,5"], "expected x,y or x,y,label"),
    (["--set", "points.backend=raft"], "backend must be one of lk, cotracker"),
])
def test_track_cli_bad_points_is_a_one_line_error(small_video, tmp_path, option, message):
    video, click, _ = small_video
    args = ["track", str(video), "-p", "points-sam2", "--sam-weights", "random", "--imgsz", "64",
            "--points", click, *option]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
