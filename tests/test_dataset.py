"""Auto-labelled datasets: a synthetic run through the real engine (random weights, whose masks come in a hundred
pieces) and objects in pieces drawn by hand, written as YOLO and COCO, loaded back with ultralytics, supervision and
pycocotools, and compared with the tracked masks. One object is one instance, however many pieces its mask has."""

from __future__ import annotations

from pathlib import Path

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


def yolo_labels(folder):
    """ultralytics' own loader over a YOLO dataset folder: its data.yaml check, then a segmentation YOLODataset's
    labels (the per-image checks it runs when it caches them) by image stem."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(folder / "data.yaml"))
    dataset = YOLODataset(img_path=str(folder / "images"), data=data, task="segment", imgsz=64, augment=False)
    return data, {Path(label["im_file"]).stem: label for label in dataset.labels}


def test_yolo_dataset_has_one_instance_per_object_and_loads(run):
    root, tracked = run
    folder = root / "yolo"
    data, labels = yolo_labels(folder)
    assert set(data["names"].values()) == {"ellipse", "box"} and data["nc"] == 2
    assert sorted(labels) == [f"{f:06d}" for f in range(0, FRAMES, EVERY)]
    for stem, label in labels.items():
        truth = tracked[int(stem)]
        assert len(label["segments"]) == len(truth) > 0  # one polygon per object, not one per piece of its mask
        names = [data["names"][int(c)] for c in label["cls"].ravel()]
        assert sorted(names) == sorted(truth.data["class_name"])
        for line in (folder / "labels" / f"{stem}.txt").read_text().splitlines():  # every polygon inside its image
            xy = np.array(line.split()[1:], dtype=float)
            assert len(xy) >= 6 and xy.min() >= 0 and xy.max() <= 1

    dataset = sv.DetectionDataset.from_yolo(str(folder / "images"), str(folder / "labels"),
                                            str(folder / "data.yaml"), force_masks=True)
    assert len(dataset) == len(labels) and dataset.classes == ["ellipse", "box"]
    for path, image, detections in dataset:
        assert image.shape[:2] == (240, 320)
        truth = tracked[int(Path(path).stem)]
        mine, theirs = union(truth.mask, (240, 320)), union(detections.mask, (240, 320))
        # the pieces are all there (a polygon drops only single-pixel specks); the lines that join them are the rest
        assert (mine & theirs).sum() >= 0.95 * mine.sum() > 1000


def test_coco_dataset_loads_and_matches_the_tracked_masks(run):
    root, tracked = run
    coco = COCO(str(root / "coco" / "annotations.json"))
    categories = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(categories.values()) == ["box", "ellipse"] and min(categories) == 1
    images = coco.loadImgs(coco.getImgIds())
    assert sorted(image["id"] - 1 for image in images) == list(range(0, FRAMES, EVERY))
    labelled = on_masks = 0
    for image in images:
        assert (root / "coco" / "images" / image["file_name"]).is_file()
        truth = tracked[image["id"] - 1]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert len(annotations) == len(truth)  # one annotation per tracked object
        for annotation in annotations:
            assert annotation["iscrowd"] == 0  # an object, not a crowd region to ignore
            label = coco.annToMask(annotation).astype(bool)
            name = categories[annotation["category_id"]]
            assert label.any() and name in truth.data["class_name"]
            labelled += label.sum()
            on_masks += max((label & m).sum() for m, n in zip(truth.mask, truth.data["class_name"]) if n == name)
    # the labels lie on the tracked masks of their classes. COCO polygons trace pixel centres, which cuts corners on
    # these random-weight masks' ragged specks (exact pieces: the hand-drawn test below)
    assert on_masks >= 0.9 * labelled > 1000
    dataset = sv.DetectionDataset.from_coco(str(root / "coco" / "images"), str(root / "coco" / "annotations.json"),
                                            force_masks=True)
    assert len(dataset) == len(images)


def pieces_result(frame_index: int) -> tuple[FrameResult, np.ndarray, np.ndarray]:
    """A 160x120 frame with two objects in pieces, as behind a pole: a cup (a ring, its hole showing the background,
    and a strip of it past a 4-pixel pole) and a person (two halves either side of a 4-pixel pole). Returns the
    result, the masks, and a pixel in the cup's hole."""
    dx = 5 * frame_index
    masks = np.zeros((2, 120, 160), dtype=bool)
    masks[0, 20:60, 20 + dx:60 + dx] = True
    masks[0, 35:45, 35 + dx:45 + dx] = False
    masks[0, 20:60, 64 + dx:74 + dx] = True
    masks[1, 70:110, 90:110] = True
    masks[1, 70:110, 114:140] = True
    detections = sv.Detections(xyxy=np.array([sv.mask_to_xyxy(m[None])[0] for m in masks], dtype=np.float32),
                               mask=masks, confidence=np.full(2, 0.9, np.float32), tracker_id=np.array([1, 2]),
                               data={"class_name": np.array(["cup", "person"]),
                                     "status": np.array(["tracked", "tracked"])})
    frame = np.full((120, 160, 3), 90, np.uint8)
    frame[masks.any(axis=0)] = 200
    return FrameResult(frame_index, 0.0, frame, detections), masks, np.array([40, 40 + dx])


def write_pieces(folder, format: str, n_frames: int = 3) -> dict[int, np.ndarray]:
    """The objects in pieces written as a dataset; their masks (and the hole's pixel) by frame index."""
    truth = {}
    with DatasetSink(folder, format) as sink:
        for frame_index in range(n_frames):
            result, masks, hole = pieces_result(frame_index)
            sink.write(result)
            truth[frame_index] = (masks, hole)
    return truth


def test_yolo_writes_an_object_in_pieces_as_one_polygon_with_its_hole(tmp_path):
    truth = write_pieces(tmp_path / "yolo", "yolo")
    data, labels = yolo_labels(tmp_path / "yolo")
    assert len(labels) == 3 and all(len(label["segments"]) == 2 for label in labels.values())  # 2 objects, 2 lines
    dataset = sv.DetectionDataset.from_yolo(str(tmp_path / "yolo" / "images"), str(tmp_path / "yolo" / "labels"),
                                            str(tmp_path / "yolo" / "data.yaml"), force_masks=True)
    assert dataset.classes == ["cup", "person"]
    for path, _, detections in dataset:
        masks, (hole_y, hole_x) = truth[int(Path(path).stem)]
        assert list(detections.class_id) == [0, 1]
        for label, mask in zip(detections.mask, masks):
            assert (mask & ~label).sum() == 0  # every piece, whole
            assert (label & ~mask).sum() <= 0.01 * mask.sum()  # and only the short seams that join them
        assert not detections.mask[0, hole_y, hole_x]  # the hole stays a hole


def test_coco_writes_an_object_in_pieces_as_one_annotation_with_a_polygon_per_piece(tmp_path):
    truth = write_pieces(tmp_path / "coco", "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cup", "person"]
    for image_id in coco.getImgIds():
        masks, (hole_y, hole_x) = truth[image_id - 1]
        annotations = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: a["category_id"])
        assert [a["iscrowd"] for a in annotations] == [0, 0]
        assert [len(a["segmentation"]) for a in annotations] == [2, 2]  # a polygon per piece, the hole bridged in
        for annotation, mask in zip(annotations, masks):
            label = coco.annToMask(annotation).astype(bool)
            # COCO polygons trace pixel centres (a rim is lost); the seam to the hole may draw a pixel
            assert (label & ~mask).sum() <= 2 and iou(label, mask) > 0.9
            assert annotation["area"] == mask.sum()
        assert not coco.annToMask(annotations[0])[hole_y, hole_x]
    dataset = sv.DetectionDataset.from_coco(str(tmp_path / "coco" / "images"),
                                            str(tmp_path / "coco" / "annotations.json"), force_masks=True)
    assert len(dataset) == 3 and all(len(detections) == 2 for _, _, detections in dataset)


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
