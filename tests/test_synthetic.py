"""The synthetic scenarios tell the story they promise, with exact ground truth, in both file layouts."""

from __future__ import annotations

import configparser

import cv2
import numpy as np
import pytest
from PIL import Image

from autotrack.eval.synthetic import make_scenario, render_scenario, write_scenario
from autotrack.motion import mask_to_box


@pytest.fixture(scope="module")
def mixed():
    scenario = make_scenario("mixed", n_frames=90, size=(320, 240), seed=0)
    return scenario, list(render_scenario(scenario))


def visible_frames(rendered, object_id: int) -> list[int]:
    return [truth.frame_index for _, truth in rendered if object_id in truth.ids]


def visible_area(rendered, object_id: int) -> np.ndarray:
    """Visible pixels of one object on every frame (0 where it is not visible)."""
    return np.array([truth.masks[list(truth.ids).index(object_id)].sum() if object_id in truth.ids else 0
                     for _, truth in rendered])


def inside_frame(scenario, box) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= scenario.width and box[3] <= scenario.height


def test_masks_boxes_and_pixels_agree(mixed):
    scenario, rendered = mixed
    objects = {obj.object_id: obj for obj in scenario.objects}
    for frame, truth in rendered:
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert list(truth.ids) == sorted(set(truth.ids))
        assert truth.masks.sum(axis=0).max() <= 1  # visible parts never overlap
        for object_id, mask, box, visibility in zip(truth.ids, truth.masks, truth.boxes, truth.visibility):
            obj = objects[object_id]
            x1, y1, x2, y2 = obj.boxes[truth.frame_index]
            assert mask.any()
            np.testing.assert_array_equal(box, mask_to_box(mask))
            assert box[0] >= max(x1, 0) and box[1] >= max(y1, 0) and box[2] <= x2 and box[3] <= y2
            assert visibility == pytest.approx(mask.sum() / obj.shape_mask.sum())
            ys, xs = np.nonzero(mask)  # the visible pixels show this object's texture
            np.testing.assert_array_equal(frame[ys, xs], obj.texture[ys - y1, xs - x1])


@pytest.mark.parametrize("n_frames, size", [(90, (320, 240)), (40, (160, 120))])
def test_occluded_object_shrinks_then_vanishes_then_returns(n_frames, size):
    scenario = make_scenario("occlusion", n_frames=n_frames, size=size)
    rendered = list(render_scenario(scenario))
    occluded = scenario.object_by_role("occluded")
    area = visible_area(rendered, occluded.object_id)
    hidden = [f for f in range(n_frames) if area[f] == 0]
    assert hidden, "the occluded object is never fully hidden"
    assert hidden == list(range(hidden[0], hidden[-1] + 1))  # one occlusion, in one piece
    assert all(inside_frame(scenario, occluded.boxes[f]) for f in hidden)  # hidden by the occluder, not the border
    full = occluded.shape_mask.sum()
    assert area[0] == full and area[-1] == full
    assert 0 < area[hidden[0] - 1] < full  # partly covered just before it vanishes
    assert 0 < area[hidden[-1] + 1] < full  # and just after it comes back
    assert visible_frames(rendered, scenario.object_by_role("occluder").object_id) == list(range(n_frames))


def test_crossing_objects_swap_sides_one_in_front(mixed):
    scenario, rendered = mixed
    front, back = scenario.object_by_role("crossing_front"), scenario.object_by_role("crossing_back")
    overlapping = [f for f in range(scenario.n_frames)
                   if front.boxes[f, 0] < back.boxes[f, 2] and back.boxes[f, 0] < front.boxes[f, 2]
                   and front.boxes[f, 1] < back.boxes[f, 3] and back.boxes[f, 1] < front.boxes[f, 3]]
    assert len(overlapping) >= 5
    back_area, front_area = visible_area(rendered, back.object_id), visible_area(rendered, front.object_id)
    assert back_area[overlapping].min() < 0.5 * back.shape_mask.sum()  # the back one is mostly hidden
    assert (front_area[overlapping] == front.shape_mask.sum()).all()  # the front one never is
    assert front.boxes[0, 0] < back.boxes[0, 0] and front.boxes[-1, 0] > back.boxes[-1, 0]  # they crossed


def test_object_leaves_and_reenters_with_its_id(mixed):
    scenario, rendered = mixed
    reentering = scenario.object_by_role("reentering")
    frames = visible_frames(rendered, reentering.object_id)
    gaps = [(a, b) for a, b in zip(frames, frames[1:]) if b > a + 1]
    assert len(gaps) == 1 and frames[0] == 0 and frames[-1] == scenario.n_frames - 1
    gone = range(gaps[0][0] + 1, gaps[0][1])
    assert len(gone) >= 10
    assert all(reentering.boxes[f, 0] >= scenario.width for f in gone)  # out through the right edge


def test_new_objects_enter_mid_video(mixed):
    scenario, rendered = mixed
    for role in ("late_top", "late_bottom"):
        late = scenario.object_by_role(role)
        frames = visible_frames(rendered, late.object_id)
        assert frames[0] > scenario.n_frames // 3 and frames[-1] == scenario.n_frames - 1
        first = rendered[frames[0]][1]
        assert first.visibility[list(first.ids).index(late.object_id)] < 1  # it comes in over the frame edge
    assert len(rendered[0][1].ids) == len(scenario.objects) - 2


def test_distractor_looks_like_the_reentering_object(mixed):
    scenario, rendered = mixed
    distractor, reentering = scenario.object_by_role("distractor"), scenario.object_by_role("reentering")
    assert distractor.object_id != reentering.object_id
    np.testing.assert_array_equal(distractor.texture, reentering.texture)
    np.testing.assert_array_equal(distractor.shape_mask, reentering.shape_mask)
    away = set(range(scenario.n_frames)) - set(visible_frames(rendered, reentering.object_id))
    assert away and away <= set(visible_frames(rendered, distractor.object_id))  # in view while the other is gone


def test_kinds_hold_only_their_objects():
    assert {o.role for o in make_scenario("occlusion").objects} == {"occluded", "occluder"}
    assert {o.role for o in make_scenario("distractor").objects} == {"reentering", "distractor"}
    assert [o.object_id for o in make_scenario("late_entry").objects] == [1, 2]
    assert len(make_scenario("mixed").objects) == 8
    with pytest.raises(ValueError, match="unknown scenario kind"):
        make_scenario("nope")
    with pytest.raises(ValueError, match="at least 2 frames"):
        make_scenario(n_frames=1)


def test_deterministic_for_a_seed():
    def frames(seed):
        return [(frame, truth) for frame, truth in render_scenario(make_scenario(n_frames=12, seed=seed))]

    first, again, other = frames(3), frames(3), frames(4)
    for (frame_a, truth_a), (frame_b, truth_b) in zip(first, again):
        np.testing.assert_array_equal(frame_a, frame_b)
        np.testing.assert_array_equal(truth_a.masks, truth_b.masks)
        np.testing.assert_array_equal(truth_a.ids, truth_b.ids)
    assert not np.array_equal(first[0][0], other[0][0])


def test_truth_as_detections(mixed):
    _, rendered = mixed
    truth = rendered[0][1]
    detections = truth.to_detections()
    assert len(detections) == len(truth.ids)
    np.testing.assert_array_equal(detections.tracker_id, truth.ids)
    np.testing.assert_array_equal(detections.mask, truth.masks)
    np.testing.assert_array_equal(detections.xyxy, truth.boxes)


def test_write_scenario_in_mot_and_davis_layouts(tmp_path):
    scenario = make_scenario("mixed", n_frames=16, size=(160, 120), seed=1, fps=25)
    files = write_scenario(scenario, tmp_path, name="seq")
    truths = [truth for _, truth in render_scenario(scenario)]

    info = configparser.ConfigParser()
    info.read(files.sequence_dir / "seqinfo.ini")
    assert dict(info["Sequence"]) == {"name": "seq", "imdir": "img1", "framerate": "25", "seqlength": "16",
                                      "imwidth": "160", "imheight": "120", "imext": ".jpg"}
    assert sorted(p.name for p in (files.sequence_dir / "img1").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 17)]
    assert sorted(p.name for p in files.davis_images.iterdir()) == [f"{i:05d}.jpg" for i in range(16)]
    assert cv2.imread(str(files.davis_images / "00000.jpg")).shape == (120, 160, 3)

    rows = np.loadtxt(files.sequence_dir / "gt" / "gt.txt", delimiter=",")
    expected = [[t.frame_index + 1, i, b[0], b[1], b[2] - b[0], b[3] - b[1], 1, 1, v]
                for t in truths for i, b, v in zip(t.ids, t.boxes, t.visibility)]
    np.testing.assert_allclose(rows, np.array(expected), atol=1e-4)

    for truth in truths:
        image = Image.open(files.davis_annotations / f"{truth.frame_index:05d}.png")
        assert image.mode == "P"
        expected_labels = np.zeros((120, 160), np.uint8)
        for object_id, mask in zip(truth.ids, truth.masks):
            expected_labels[mask] = object_id
        np.testing.assert_array_equal(np.array(image), expected_labels)

    capture = cv2.VideoCapture(str(files.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 16
    capture.release()
