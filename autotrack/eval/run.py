"""Run a pipeline over a dataset and score it: `autotrack eval run DATASET_DIR -p PIPELINE`.

Per layout (see `autotrack.eval.datasets`):
- davis: every object of the first annotated frame is prompted with its mask; masks are written as DAVIS PNGs and
  scored with J&F (`evaluate_vos`).
- mot: objects come from the pipeline's detector, or, for a pipeline without one, from the sequence's
  `det/det.txt` (`DetFilePrompter`); boxes are written as MOTChallenge text and scored with HOTA (`evaluate_mot`).
- otb: the single object is prompted with its first ground-truth box; one box per frame is written and scored with
  success AUC and precision (`evaluate_sot`).

The work folder gets `gt/` (the ground truth of the frames that ran: all of them, or the first `max_frames`) and
`pred/`, in the layout the metric reads, so a run can be scored again with `autotrack eval vos|mot|sot`.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from autotrack.config import PipelineConfig, load_config
from autotrack.errors import InputError
from autotrack.eval.datasets import Sequence, find_sequences
from autotrack.pipeline import load_models, new_session
from autotrack.prompters.base import Prompter
from autotrack.prompters.manual import ManualPrompts, UserPrompt
from autotrack.sinks import DavisPngSink, MotSink, Sink
from autotrack.sources.images import ImageSource
from autotrack.types import FrameResult, Prompt

Results = dict[str, dict[str, float]]


def run_dataset(
    root: str | Path,
    work_dir: str | Path,
    pipeline: str | PipelineConfig = "manual-sam2",
    overrides: Mapping[str, object] | None = None,
    layout: str | None = None,
    sequences: list[str] | None = None,
    max_frames: int | None = None,
) -> Results:
    """Run `pipeline` (a name, YAML file or PipelineConfig; `overrides` as `load_config` takes them) on each
    sequence of the dataset at `root`, write ground truth and predictions into `work_dir/gt` and `work_dir/pred`, and
    return the metric's table (`{sequence: metrics}` plus "COMBINED")."""
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be at least 1, got {max_frames}")
    layout, found = find_sequences(root, layout, sequences)
    config = pipeline if isinstance(pipeline, PipelineConfig) else load_config(pipeline, overrides)
    models = load_models(config)  # once; each sequence gets a session of its own
    gt_root, pred_root = Path(work_dir) / "gt", Path(work_dir) / "pred"
    for sequence in found:
        frames = sequence.images[:max_frames]
        prompts, sinks, prompter = _PREPARE[layout](sequence, frames, gt_root, pred_root, models.prompter)
        new_session(replace(models, prompter=prompter), config, ImageSource(frames), sinks,
                    ManualPrompts(prompts)).run()
    return _score(layout, gt_root, pred_root)


def _score(layout: str, gt_root: Path, pred_root: Path) -> Results:
    if layout == "davis":
        from autotrack.eval.vos import evaluate_vos

        return evaluate_vos(gt_root, pred_root)
    if layout == "mot":
        from autotrack.eval.mot import evaluate_mot

        return evaluate_mot(gt_root, pred_root)
    from autotrack.eval.sot import evaluate_sot

    return evaluate_sot(gt_root, pred_root)


def _prepare_davis(sequence: Sequence, frames: list[Path], gt_root: Path, pred_root: Path, prompter: Prompter | None):
    """Link the frames' annotations as gt/<seq>/<index>.png; prompt every first-frame object with its mask."""
    from autotrack.eval.vos import read_label_map

    first = sequence.ground_truth / f"{frames[0].stem}.png"
    if not first.is_file():
        raise FileNotFoundError(f"{sequence.name}: no annotation of the first frame ({first})")
    gt_dir = gt_root / sequence.name
    gt_dir.mkdir(parents=True)
    for index, image in enumerate(frames):
        annotation = sequence.ground_truth / f"{image.stem}.png"
        if annotation.is_file():
            (gt_dir / f"{index:05d}.png").symlink_to(annotation.resolve())
    labels = read_label_map(first)
    ids = [int(i) for i in np.unique(labels) if i not in (0, 255)]  # 255: DAVIS "void"
    if not ids:
        raise InputError(f"{sequence.name}: the first annotation ({first}) holds no object")
    prompts = [UserPrompt(i, 0, Prompt(mask=labels == i)) for i in ids]
    return prompts, [DavisPngSink(pred_root / sequence.name)], prompter


def _prepare_mot(sequence: Sequence, frames: list[Path], gt_root: Path, pred_root: Path, prompter: Prompter | None):
    """Write the frames' ground truth and a seqinfo.ini of their length; prompt from the detector or det.txt."""
    from autotrack.eval.det_file import DetFilePrompter
    from autotrack.eval.mot import read_mot_file

    if prompter is None:
        if sequence.detections is None:
            raise FileNotFoundError(f"{sequence.name}: no det/det.txt; use a pipeline with a detector "
                                    "(e.g. -p yolo-sam2)")
        prompter = DetFilePrompter(sequence.detections)
    rows = read_mot_file(sequence.ground_truth, min_columns=8)
    gt_dir = gt_root / sequence.name
    (gt_dir / "gt").mkdir(parents=True)
    np.savetxt(gt_dir / "gt" / "gt.txt", rows[rows[:, 0] <= len(frames)], fmt="%g", delimiter=",")
    seqinfo = configparser.ConfigParser()
    seqinfo.optionxform = str  # MOT's camelCase keys
    seqinfo["Sequence"] = {"name": sequence.name, "seqLength": str(len(frames))}
    with open(gt_dir / "seqinfo.ini", "w", encoding="utf-8") as f:
        seqinfo.write(f, space_around_delimiters=False)
    return [], [MotSink(pred_root / f"{sequence.name}.txt")], prompter


def _prepare_otb(sequence: Sequence, frames: list[Path], gt_root: Path, pred_root: Path, prompter: Prompter | None):
    """Write the frames' boxes; prompt object 1 with the first box (OTB boxes are 1-based x,y,w,h)."""
    from autotrack.eval.sot import read_boxes

    boxes = read_boxes(sequence.ground_truth)
    if len(boxes) < len(frames):
        raise InputError(f"{sequence.name}: {len(boxes)} ground-truth boxes for {len(frames)} frames")
    x, y, w, h = boxes[0]
    if not (w > 0 and h > 0):
        raise InputError(f"{sequence.name}: the first frame has no ground-truth box")
    (gt_root / sequence.name).mkdir(parents=True)
    np.savetxt(gt_root / sequence.name / "groundtruth_rect.txt", boxes[: len(frames)], fmt="%g", delimiter=",")
    prompt = Prompt(box=[x - 1, y - 1, x - 1 + w, y - 1 + h])
    return [UserPrompt(1, 0, prompt)], [BoxFileSink(pred_root / f"{sequence.name}.txt", object_id=1)], prompter


_PREPARE = {"davis": _prepare_davis, "mot": _prepare_mot, "otb": _prepare_otb}


class BoxFileSink(Sink):
    """One `x,y,w,h` line per frame for one object (1-based, as OTB); `NaN,NaN,NaN,NaN` when it has no box.

    An occluded object keeps its predicted box, as single-object trackers report one on every frame.
    """

    def __init__(self, path: str | Path, object_id: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.object_id = object_id
        self._file = open(self.path, "w", encoding="utf-8")

    def write(self, result: FrameResult) -> None:
        detections = result.detections
        rows = [] if detections.tracker_id is None else np.flatnonzero(detections.tracker_id == self.object_id)
        box = detections.xyxy[rows[0]] if len(rows) else np.zeros(4)
        if box[2] > box[0] and box[3] > box[1]:
            self._file.write(f"{box[0] + 1:g},{box[1] + 1:g},{box[2] - box[0]:g},{box[3] - box[1]:g}\n")
        else:
            self._file.write("NaN,NaN,NaN,NaN\n")
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
