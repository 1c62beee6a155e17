"""Auto-labelled datasets: a synthetic run through the real engine (random weights) written as YOLO and COCO, loaded
back with ultralytics, supervision and pycocotools, and compared with the tracked masks."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from pycocotools.coco import COCO

from autotrack import SAM2Tracker
from autotrack.eval.synthetic import make_scenario, render_frame, render_scenario
from autotrack.pipeline import Pipeline
from autotrack.prompters.base import Prompter
from autotrack.sinks import DatasetSink
from autotrack.sinks.base import visible
from autotrack.sinks.dataset import DatasetError
from autotrack.types import FrameResult

FRAMES = 6
EVERY = 2
NAMES = {1: "ellipse", 2: "box"}  # class of each synthetic object id: odd ids "ellipse", even ids "box"


class NamedTruthDetector(Prompter):
    """The synthetic ground truth as detections with class names, as an open-vocabulary detector would give."""

    def __init__(self, scenario) -> None:
        self.scenario = scenario

    def __call__(self, frame: np.ndarray, frame_index: int) -> sv.Detections:
        truth = render_frame(self.scenario, frame_index)[1]
        class_id = np.where(truth.ids % 2 == 1, 1, 2)
        return sv.Detections(xyxy=truth.boxes, confidence=np.full(len(truth.ids), 0.9, np.float32),
                             class_id=class_id, data={"class_name": np.array([NAMES[c] for c in class_id])})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One synthetic run writing both datasets; returns (folder, tracked visible detections by frame index)."""
    root = tmp_path_factory.mktemp("datasets")
    scenario = make_scenario("crossing", n_frames=FRAMES, size=(320, 240), seed=3)
    sinks = [DatasetSink(root / "yolo", "yolo", every=EVERY), DatasetSink(root / "coco", "coco", every=EVERY)]
    tracker = SAM2Tracker("sam2.1_t", weights="random", imgsz=128, device="cpu")
    frames = (frame for frame, _ in render_scenario(scenario))
    tracked = {}
    for result in Pipeline(frames, NamedTruthDetector(scenario), tracker, sinks).stream():
        detections = visible(result.detections)
        tracked[result.frame_index] = detections[detections.mask.any(axis=(1, 2))]
    return root, tracked


def union(masks, shape) -> np.ndarray:
    return np.any(list(masks), axis=0) if len(masks) else np.zeros(shape, dtype=bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def assert_labels_match(labels: sv.Detections, tracked: sv.Detections, shape) -> int:
    """Every labelled pixel lies on a tracked mask of its own class, and the labels cover nearly all tracked pixels.

    Polygons cannot hold single-pixel specks, which SAM2 with random weights leaves around its masks: those few
    pixels are all a polygon label may miss. Returns the number of tracked pixels compared."""
    for name in NAMES.values():
        mine = union(tracked.mask[tracked.data["class_name"] == name], shape)
        theirs = union(labels.mask[labels.data["class_name"] == name], shape)
        assert (theirs & ~mine).sum() <= 0.01 * max(theirs.sum(), 1), name
    mine, theirs = union(tracked.mask, shape), union(labels.mask, shape)
    assert (mine & theirs).sum() >= 0.95 * mine.sum()
    return int(mine.sum())


def test_yolo_dataset_loads_and_matches_the_tracked_masks(run):
    from ultralytics.data.utils import check_det_dataset, verify_image_label

    root, tracked = run
    folder = root / "yolo"
    data = check_det_dataset(str(folder / "data.yaml"))  # ultralytics' own dataset checker
    assert set(data["names"].values()) == {"ellipse", "box"} and data["nc"] == 2
    images = sorted((folder / "images").glob("*.jpg"))
    assert [p.stem for p in images] == [f"{f:06d}" for f in range(0, FRAMES, EVERY)]
    for image in images:  # the per-image check ultralytics runs when it caches a segmentation dataset's labels
        label = folder / "labels" / f"{image.stem}.txt"
        *_, n_missing, n_found, n_empty, n_corrupt, message = verify_image_label(
            (str(image), str(label), "", False, data["nc"], 0, 0, False))
        assert (n_found, n_corrupt) == (1, 0), message
        for line in label.read_text().splitlines():  # every polygon lies inside its image
            xy = np.array(line.split()[1:], dtype=float)
            assert len(xy) >= 6 and xy.min() >= 0 and xy.max() <= 1

    dataset = sv.DetectionDataset.from_yolo(str(folder / "images"), str(folder / "labels"),
                                            str(folder / "data.yaml"), force_masks=True)
    assert len(dataset) == len(images) and dataset.classes == ["ellipse", "box"]
    compared = 0
    for path, image, labels in dataset:
        assert image.shape[:2] == (240, 320)
        compared += assert_labels_match(labels, tracked[int(path.rsplit("/", 1)[1].split(".")[0])], (240, 320))
    assert compared > 1000  # masks were there to compare


def test_coco_dataset_loads_and_matches_the_tracked_masks(run):
    root, tracked = run
    coco = COCO(str(root / "coco" / "annotations.json"))
    categories = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(categories.values()) == ["box", "ellipse"] and min(categories) == 1
    images = coco.loadImgs(coco.getImgIds())
    assert sorted(image["id"] - 1 for image in images) == list(range(0, FRAMES, EVERY))
    compared = 0
    for image in images:
        assert (root / "coco" / "images" / image["file_name"]).is_file()
        truth = tracked[image["id"] - 1]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert len(annotations) == len(truth)  # one annotation per tracked object
        for annotation in annotations:
            mask = coco.annToMask(annotation).astype(bool)
            name = categories[annotation["category_id"]]
            ious = [iou(mask, m) for m, n in zip(truth.mask, truth.data["class_name"]) if n == name]
            assert max(ious) > 0.85, (image["id"], name)
            compared += 1
    assert compared >= 4
    dataset = sv.DetectionDataset.from_coco(str(root / "coco" / "images"), str(root / "coco" / "annotations.json"),
                                            force_masks=True)
    assert len(dataset) == len(images)


def test_an_interrupted_run_leaves_a_loadable_dataset(tmp_path):
    scenario = make_scenario("crossing", n_frames=3, size=(160, 120), seed=0)
    sink = DatasetSink(tmp_path / "d", "coco")
    for frame_index, (frame, truth) in enumerate(render_scenario(scenario)):
        detections = truth.to_detections()
        detections.data["status"] = np.array(["tracked"] * len(truth.ids))
        sink.write(FrameResult(frame_index, 0.0, frame, detections))
    # no close(): the process died here
    coco = COCO(str(tmp_path / "d" / "annotations.json"))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 6
    assert [p.name for p in (tmp_path / "d").iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("case", ["not empty", "under a file", "bad format"])
def test_a_dataset_folder_that_cannot_be_used_is_refused_before_anything_is_written(case, tmp_path):
    target = {"not empty": tmp_path, "under a file": tmp_path / "file.txt" / "d", "bad format": tmp_path / "new"}[case]
    (tmp_path / "file.txt").write_text("keep me")
    with pytest.raises(DatasetError) as error:
        DatasetSink(target, "voc" if case == "bad format" else "yolo")
    assert "\n" not in str(error.value)
    assert (tmp_path / "file.txt").read_text() == "keep me" and not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # nothing created, nothing overwritten
