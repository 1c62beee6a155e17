"""MOTChallenge metrics (HOTA, DetA, AssA, MOTA, IDF1, IDSW), computed by TrackEval.

Layout: `GT_ROOT/<seq>/gt/gt.txt` (with `GT_ROOT/<seq>/seqinfo.ini` where there is one) and
`PRED_DIR/<seq>.txt`. Rows are MOTChallenge text: `frame,id,x,y,w,h,conf,class,visibility`, frames from 1.
Ground truth needs the class column, predictions need the first seven columns.
"""

from __future__ import annotations

import configparser
import io
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import trackeval

from autotrack.errors import InputError
from autotrack.eval._trackeval import QUIET, run_trackeval

BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
FRAMES = ("all", "present")  # which frames count: up to seqinfo.ini's seqLength, or up to the last predicted one
# MOTChallenge class ids 1..13 (pedestrian, person_on_vehicle, ..., crowd); MOT15 files hold -1 instead.
_MOT_CLASS_IDS = set(range(1, 14))


def evaluate_mot(
    gt_root: str | Path,
    pred_dir: str | Path,
    benchmark: str | None = None,
    sequences: Iterable[str] | None = None,
    frames: str = "all",
) -> dict[str, dict[str, float]]:
    """Score the tracker output in `pred_dir` against the ground truth in `gt_root`.

    Returns `{sequence: metrics}` plus a "COMBINED" entry over all sequences, with HOTA, DetA, AssA, MOTA and
    IDF1 in percent and IDSW as a count, exactly as TrackEval computes them. `benchmark` picks TrackEval's
    MOTChallenge preprocessing rules; by default MOT17 rules (distractor classes removed) when the ground
    truth carries MOTChallenge class ids, else MOT15 rules (no classes: every ground-truth row not marked 0
    counts).

    `sequences` names the sequences to score, each of which needs its prediction file; by default every sequence
    of `gt_root` that has one is scored (`find_mot_sequences` tells which are left out). `frames` says which
    frames count (see FRAMES): "all", MOTChallenge's rule, scores every frame up to seqinfo.ini's seqLength, so
    ground truth on frames after the predictions end counts as missed; "present" scores frames 1 to the last
    frame of the prediction file and leaves out the ground truth after it, for a tracker run on the first frames
    of a sequence only. A sequence without `seqinfo.ini` ends at the last frame found in its ground truth or
    prediction.
    """
    if frames not in FRAMES:
        raise InputError(f"unknown frames rule {frames!r}; choose one of {', '.join(FRAMES)}")
    if benchmark is not None and benchmark not in BENCHMARKS:
        raise InputError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    gt_root, pred_dir = Path(gt_root), Path(pred_dir).resolve()
    sequences, _ = find_mot_sequences(gt_root, pred_dir, sequences)
    gt_rows = {seq: read_mot_file(gt_root / seq / "gt" / "gt.txt", min_columns=8) for seq in sequences}
    pred_rows = {seq: read_mot_file(pred_dir / f"{seq}.txt", min_columns=7) for seq in sequences}
    lengths = {seq: _sequence_length(gt_root / seq, gt_rows[seq], pred_rows[seq]) for seq in sequences}
    if frames == "present":
        for seq, rows in pred_rows.items():
            if len(rows) == 0:
                raise InputError(f"{pred_dir / seq}.txt: no rows, so no frames to score with frames='present'")
            lengths[seq] = min(lengths[seq], int(rows[:, 0].max()))
    benchmark = benchmark or _infer_benchmark(gt_rows.values())

    with tempfile.TemporaryDirectory(prefix="autotrack-mot-") as tmp:
        gt_folder = gt_root
        if frames == "present":  # TrackEval rejects ground truth after a sequence's last frame: cut it off
            gt_folder = Path(tmp)
            for seq, rows in gt_rows.items():
                (gt_folder / seq / "gt").mkdir(parents=True)
                np.savetxt(gt_folder / seq / "gt" / "gt.txt", rows[rows[:, 0] <= lengths[seq]], fmt="%.10g",
                           delimiter=",")
        results = run_trackeval(
            trackeval.datasets.MotChallenge2DBox,
            {
                "GT_FOLDER": str(gt_folder),
                "TRACKERS_FOLDER": str(pred_dir.parent),
                "TRACKERS_TO_EVAL": [pred_dir.name],
                "TRACKER_SUB_FOLDER": "",
                "SKIP_SPLIT_FOL": True,
                "SEQ_INFO": lengths,
                "BENCHMARK": benchmark,
            },
            [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(QUIET), trackeval.metrics.Identity(QUIET)],
        )
    summary = {seq: _summarise(results[seq]) for seq in sequences}
    summary["COMBINED"] = _summarise(results["COMBINED_SEQ"])
    return summary


def find_mot_sequences(
    gt_root: str | Path, pred_dir: str | Path, names: Iterable[str] | None = None
) -> tuple[list[str], list[str]]:
    """The sequences to score and those of `gt_root` left out because `pred_dir` has no `<seq>.txt` for them.

    With `names`, exactly those are scored (each must be in `gt_root` and have its prediction file) and none is
    left out; without, every sequence of `gt_root` that has a prediction file, as long as one has.
    """
    gt_root, pred_dir = Path(gt_root), Path(pred_dir)
    available = _find_sequences(gt_root)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {pred_dir}")
    if names is not None:
        names = list(dict.fromkeys(names))
        unknown = [name for name in names if name not in available]
        if unknown or not names:
            raise InputError(f"no sequence {', '.join(unknown) or '(none named)'} in {gt_root}; "
                             f"it has {', '.join(available)}")
        for name in names:
            if not (pred_dir / f"{name}.txt").is_file():
                raise FileNotFoundError(f"file not found: {pred_dir / name}.txt")
        return names, []
    scored = [seq for seq in available if (pred_dir / f"{seq}.txt").is_file()]
    if not scored:
        raise FileNotFoundError(f"no prediction file in {pred_dir} for the sequences of {gt_root} "
                                f"(expected <seq>.txt, e.g. {pred_dir / available[0]}.txt)")
    return scored, [seq for seq in available if seq not in scored]


def read_mot_file(path: Path, min_columns: int) -> np.ndarray:
    """Rows of a MOTChallenge text file (comma or whitespace separated) as a float array, checked for shape."""
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    text = path.read_text()
    if not text.strip():
        return np.empty((0, min_columns))
    try:
        rows = np.loadtxt(io.StringIO(text.replace(",", " ")), ndmin=2)
    except ValueError as err:
        raise InputError(f"{path}: not a MOTChallenge text file ({err})") from None
    if rows.shape[1] < min_columns:
        raise InputError(f"{path}: rows have {rows.shape[1]} columns, MOTChallenge needs at least {min_columns}")
    if (rows[:, 0] < 1).any():
        raise InputError(f"{path}: frame numbers start at 1 in MOTChallenge files")
    return rows


def _find_sequences(gt_root: Path) -> list[str]:
    if not gt_root.is_dir():
        raise FileNotFoundError(f"ground-truth folder not found: {gt_root}")
    sequences = sorted(d.name for d in gt_root.iterdir() if (d / "gt" / "gt.txt").is_file())
    if not sequences:
        raise InputError(f"no sequences in {gt_root}: expected <seq>/gt/gt.txt")
    return sequences


def _sequence_length(seq_dir: Path, gt_rows: np.ndarray, pred_rows: np.ndarray) -> int:
    """Frame count from seqinfo.ini, else the last frame that has a ground-truth or predicted box."""
    ini_path = seq_dir / "seqinfo.ini"
    if ini_path.is_file():
        ini = configparser.ConfigParser()
        try:
            ini.read(ini_path)
            return int(ini["Sequence"]["seqLength"])
        except (configparser.Error, KeyError, ValueError):
            raise InputError(f"{ini_path}: needs seqLength in its [Sequence] section") from None
    return int(max(gt_rows[:, 0].max(initial=1), pred_rows[:, 0].max(initial=1)))


def _infer_benchmark(gt_rows: Iterable[np.ndarray]) -> str:
    classes = set(np.concatenate([rows[:, 7] for rows in gt_rows]).astype(int).tolist())
    return "MOT17" if classes <= _MOT_CLASS_IDS else "MOT15"


def _summarise(result: dict) -> dict[str, float]:
    """The headline numbers of one TrackEval result; HOTA-family scores are averaged over IoU thresholds."""
    hota = result["HOTA"]
    return {
        "HOTA": 100 * float(np.mean(hota["HOTA"])),
        "DetA": 100 * float(np.mean(hota["DetA"])),
        "AssA": 100 * float(np.mean(hota["AssA"])),
        "MOTA": 100 * float(result["CLEAR"]["MOTA"]),
        "IDF1": 100 * float(result["Identity"]["IDF1"]),
        "IDSW": int(result["CLEAR"]["IDSW"]),
    }
