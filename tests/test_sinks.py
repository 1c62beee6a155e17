"""Sinks write what they are given: every frame, the same boxes, ids and masks, valid files at every step."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import supervision as sv
from PIL import Image
from pycocotools.coco import COCO

from autotrack.sinks import (
    CallbackSink,
    CocoJsonSink,
    DavisPngSink,
    MotSink,
    OutputError,
    VideoSink,
)
from autotrack.sinks.davis import davis_palette
from autotrack.types import FrameResult

W, H, N_FRAMES = 160, 120, 6


def _rect_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _disc_mask(cx: int, cy: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def _box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def make_results() -> list[FrameResult]:
    """Track 7 (a person, a moving rectangle) on frames 0-4; track 3 (a car, a disc) on frames 1-3, occluded on
    frame 2 (kept as a row with an empty mask and a zero box); frame 5 has no objects."""
    gradient = np.linspace(60, 160, W, dtype=np.uint8)
    frame = np.dstack([np.tile(gradient, (H, 1))] * 3)
    results = []
    for f in range(N_FRAMES):
        rows = []  # (track id, class id, class name, mask)
        if f <= 4:
            rows.append((7, 0, "person", _rect_mask(10 + 5 * f, 20, 40 + 5 * f, 50)))
        if 1 <= f <= 3:
            rows.append((3, 2, "car", np.zeros((H, W), bool) if f == 2 else _disc_mask(110, 75, 15)))
        if rows:
            masks = np.stack([r[3] for r in rows])
            detections = sv.Detections(
                xyxy=np.stack([_box(m) if m.any() else np.zeros(4, np.float32) for m in masks]),
                mask=masks,
                confidence=np.array([0.9 - 0.1 * i for i in range(len(rows))], dtype=np.float32),
                class_id=np.array([r[1] for r in rows]),
                tracker_id=np.array([r[0] for r in rows]),
                data={"affinity": np.full(len(rows), 0.8), "occurrence": np.full(len(rows), 0.9),
                      "motion": np.full(len(rows), np.nan), "status": np.array(["tracked"] * len(rows)),
                      "class_name": np.array([r[2] for r in rows])},
            )
        else:
            detections = sv.Detections.empty()
        results.append(FrameResult(frame_index=f, timestamp=f / 10, frame=frame.copy(), detections=detections))
    return results


def visible_rows(result: FrameResult) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """(track id, xyxy, mask, confidence) of the rows a sink should write."""
    d = result.detections
    if len(d) == 0:
        return []
    return [(int(d.tracker_id[i]), d.xyxy[i], d.mask[i], float(d.confidence[i]))
            for i in range(len(d)) if d.mask[i].any()]


def fourcc(path) -> str:
    """The four-character code of a video file's codec, e.g. 'avc1' for H.264, 'mp4v' for MPEG-4."""
    code = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FOURCC))
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))


def read_video(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.mark.parametrize("writer", ["ffmpeg", "opencv"])
def test_video_sink_writes_every_frame_annotated(writer, tmp_path, monkeypatch):
    """Through the system ffmpeg, or through OpenCV when there is none."""
    if writer == "opencv":
        monkeypatch.setattr("autotrack.sinks.video.shutil.which", lambda name: None)
    results = make_results()
    path = tmp_path / "out" / "video.mp4"
    with VideoSink(path, fps=10) as sink:
        for result in results:
            sink.write(result)
    frames = read_video(path)
    assert len(frames) == N_FRAMES
    assert frames[0].shape == (H, W, 3)
    diff = [np.abs(out.astype(int) - r.frame.astype(int)).mean(axis=2) for out, r in zip(frames, results)]
    mask = results[1].detections.mask
    assert diff[1][mask[0]].mean() > 20  # track 7 is drawn over
    assert diff[1][mask[1]].mean() > 20  # track 3 is drawn over
    assert diff[1][100:, :20].mean() < 8  # far from every object the frame is untouched (up to compression)
    assert diff[2][mask[1]].mean() < 8  # an occluded object (empty mask, zero box) is not drawn
    assert diff[5].mean() < 8  # a frame without objects is written as it came


def test_video_sink_writes_browser_playable_h264(tmp_path):
    """H.264 plays in browsers; the system ffmpeg (installed by .ci/run) encodes it."""
    assert shutil.which("ffmpeg"), "ffmpeg is a CI dependency (.ci/apt-packages.txt)"
    path = tmp_path / "video.mp4"
    with VideoSink(path, fps=10) as sink:
        for result in make_results():
            sink.write(result)
    assert fourcc(path) in ("avc1", "h264")  # how OpenCV names H.264
    assert len(read_video(path)) == N_FRAMES


def test_video_sink_clear_errors(tmp_path):
    result = make_results()[0]
    with pytest.raises(RuntimeError, match="cannot open a video writer"):
        VideoSink(tmp_path / "video.unknownsuffix", fps=10).write(result)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(OutputError, match="cannot write video .*folder.mp4: Is a directory"):
        VideoSink(tmp_path / "folder.mp4", fps=10).write(result)
    with pytest.raises(ValueError, match="fps"):
        VideoSink(tmp_path / "video.mp4", fps=0)
    sink = VideoSink(tmp_path / "video.mp4", fps=10)
    sink.write(result)
    smaller = FrameResult(1, 0.1, result.frame[:60], sv.Detections.empty())
    with pytest.raises(ValueError, match="the video is 160x120"):
        sink.write(smaller)
    sink.close()
    sink.close()  # closing twice is fine


def test_video_sink_reports_ffmpeg_failure(tmp_path, monkeypatch):
    """ffmpeg's own last message line, as one OutputError, on the next write or at the latest on close."""
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Unknown encoder libx264' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    sink = VideoSink(tmp_path / "video.mp4", fps=10)
    with pytest.raises(OutputError, match="ffmpeg .*video.mp4: Unknown encoder libx264"):
        for result in make_results():
            sink.write(result)
        sink.close()
    sink.close()  # the failure was reported once; closing again is quiet


def test_mot_sink_round_trip_and_flush(tmp_path):
    results = make_results()
    path = tmp_path / "mot" / "result.txt"
    sink = MotSink(path)
    for result in results:
        sink.write(result)
        written = path.read_text().splitlines()  # readable while the run goes on
        assert len(written) == sum(len(visible_rows(r)) for r in results[: result.frame_index + 1])
    sink.close()
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    expected = [
        [r.frame_index + 1, track_id, box[0], box[1], box[2] - box[0], box[3] - box[1], conf, -1, -1, -1]
        for r in results for track_id, box, _, conf in visible_rows(r)
    ]
    np.testing.assert_allclose(rows, np.array(expected), atol=1e-4)
    assert 2 + 1 not in rows[rows[:, 1] == 3, 0]  # track 3 is occluded on frame index 2 (MOT frame 3)


def test_coco_sink_valid_after_every_frame(tmp_path):
    results = make_results()
    path = tmp_path / "coco.json"
    sink = CocoJsonSink(path)
    assert json.loads(path.read_text())["images"] == []  # valid before the first frame too
    for result in results:
        sink.write(result)
        # no close(): what an interrupted run leaves must load
        data = json.loads(path.read_text())
        assert [image["frame_index"] for image in data["images"]] == list(range(result.frame_index + 1))
        assert all(image["width"] == W and image["height"] == H for image in data["images"])
        coco = COCO(str(path))
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[result.frame_index + 1]))
        expected = visible_rows(result)
        assert len(annotations) == len(expected)
        for annotation, (track_id, box, mask, conf) in zip(annotations, expected):
            assert annotation["track_id"] == track_id
            assert isinstance(annotation["segmentation"]["counts"], str) and annotation["iscrowd"] == 0
            np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), mask)
            np.testing.assert_allclose(annotation["bbox"], [box[0], box[1], box[2] - box[0], box[3] - box[1]])
            assert annotation["area"] == mask.sum()
            assert annotation["score"] == pytest.approx(conf, abs=1e-4)
    sink.close()
    data = json.loads(path.read_text())
    assert {c["id"]: c["name"] for c in data["categories"]} == {0: "person", 2: "car"}
    ids = [a["id"] for a in data["annotations"]]
    assert ids == list(range(1, sum(len(visible_rows(r)) for r in results) + 1))


def test_davis_sink_writes_palette_pngs(tmp_path):
    results = make_results()
    with DavisPngSink(tmp_path / "masks") as sink:
        for result in results:
            sink.write(result)
    assert sink.object_index == {7: 1, 3: 2}  # by first appearance, not by id value
    files = sorted(p.name for p in (tmp_path / "masks").iterdir())
    # the PNGs, and the map of their indices to tracker ids and classes; no temporary files left behind
    assert files == [f"{f:05d}.png" for f in range(N_FRAMES)] + ["objects.json"]
    objects = json.loads((tmp_path / "masks" / "objects.json").read_text())
    assert {index: entry["id"] for index, entry in objects.items()} == {"1": 7, "2": 3}
    for result in results:
        image = Image.open(tmp_path / "masks" / f"{result.frame_index:05d}.png")
        assert image.mode == "P"
        palette = np.array(image.getpalette()[: 3 * 3]).reshape(3, 3)
        np.testing.assert_array_equal(palette, davis_palette()[:3])
        expected = np.zeros((H, W), np.uint8)
        for track_id, _, mask, _ in visible_rows(result):
            expected[mask] = sink.object_index[track_id]
        np.testing.assert_array_equal(np.array(image), expected)
    assert not np.array(Image.open(tmp_path / "masks" / "00005.png")).any()


def test_callback_sink_passes_each_result():
    results = make_results()
    seen = []
    with CallbackSink(seen.append) as sink:
        for result in results:
            sink.write(result)
    assert seen == results
    with pytest.raises(TypeError, match="callable"):
        CallbackSink("not a function")


def test_sinks_need_tracker_ids(tmp_path):
    result = make_results()[0]
    result.detections.tracker_id = None
    with MotSink(tmp_path / "mot.txt") as sink, pytest.raises(ValueError, match="tracker_id"):
        sink.write(result)


def test_a_file_already_at_an_output_path_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    old = {tmp_path / "out.txt": "old mot\n", tmp_path / "out.classes.csv": "old classes\n",
           tmp_path / "out.json": "old json\n"}
    for path, text in old.items():
        path.write_text(text)
    sinks = [MotSink(tmp_path / "out.txt"), CocoJsonSink(tmp_path / "out.json")]
    for result in make_results()[:2]:
        for sink in sinks:
            sink.write(result)
    assert {path: path.read_text() for path in old} == old  # a run that dies now leaves the old files
    for sink in sinks:
        sink.close()
    assert all(path.read_text() != text for path, text in old.items())
    assert (tmp_path / "out.txt").read_text().startswith("1,") and json.loads((tmp_path / "out.json").read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in old)  # no partial file left
