"""`autotrack eval mot|vos|sot`: score tracker output against ground truth and print the benchmark table;
`autotrack eval run`: run a pipeline over a dataset first.

The metric modules load inside each command (TrackEval takes a moment to import), so `autotrack --help`
stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from autotrack.cli.options import PROMPTED_PIPELINE, options_config, shared_options

Results = dict[str, dict[str, float]]

_json_option = click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results (one entry per sequence and COMBINED) to this JSON file.",
)


@click.group("eval")
def eval_group() -> None:
    """Score tracker output against ground truth with the standard benchmark metrics."""


@eval_group.command("mot")
@click.argument("gt_root", type=click.Path(path_type=Path))
@click.argument("pred_dir", type=click.Path(path_type=Path))
@click.option(
    "--benchmark",
    help="MOTChallenge preprocessing rules: MOT15, MOT16, MOT17 or MOT20 (default: MOT17 if the ground truth "
    "has class ids, else MOT15).",
)
@click.option("--sequences", help="Comma-separated sequence names to score (default: every sequence of GT_ROOT "
              "that has a prediction file).")
@click.option("--frames", type=click.Choice(["all", "present"]), default="all", show_default=True,
              help="Frames that count: 'all' up to seqinfo.ini's seqLength (MOTChallenge's rule: frames after the "
              "predictions end are misses), 'present' only up to the last frame of each prediction file.")
@_json_option
def mot_command(gt_root: Path, pred_dir: Path, benchmark: str | None, sequences: str | None, frames: str,
                json_path: Path | None) -> None:
    """HOTA, DetA, AssA, MOTA, IDF1 and IDSW (TrackEval).

    GT_ROOT holds <seq>/gt/gt.txt (and <seq>/seqinfo.ini); PRED_DIR holds <seq>.txt in MOTChallenge format.
    Sequences without a prediction file are left out with a notice.
    """
    from autotrack.eval.mot import evaluate_mot, find_mot_sequences

    scored, skipped = find_mot_sequences(gt_root, pred_dir, _names(sequences))
    if skipped:
        click.echo(f"not scored (no prediction file in {pred_dir}): {', '.join(skipped)}", err=True)
    _report(evaluate_mot(gt_root, pred_dir, benchmark, scored, frames), json_path)


@eval_group.command("vos")
@click.argument("gt_root", type=click.Path(path_type=Path))
@click.argument("pred_root", type=click.Path(path_type=Path))
@_json_option
def vos_command(gt_root: Path, pred_root: Path, json_path: Path | None) -> None:
    """J&F, J and F (TrackEval's JAndF) on DAVIS layouts: <seq>/<frame>.png on both sides."""
    from autotrack.eval.vos import evaluate_vos

    _report(evaluate_vos(gt_root, pred_root), json_path)


@eval_group.command("sot")
@click.argument("gt", type=click.Path(path_type=Path))
@click.argument("pred", type=click.Path(path_type=Path))
@_json_option
def sot_command(gt: Path, pred: Path, json_path: Path | None) -> None:
    """Success AUC and precision at 20 px (OTB / LaSOT).

    GT and PRED are two x,y,w,h box files, or two folders: GT/<seq>/groundtruth_rect.txt (or groundtruth.txt)
    and PRED/<seq>.txt.
    """
    from autotrack.eval.sot import evaluate_sot

    _report(evaluate_sot(gt, pred), json_path)


@eval_group.command("run")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@shared_options("pipeline")
@click.option("--layout", type=click.Choice(["davis", "mot", "otb"]), help="Dataset layout (default: detected).")
@click.option("--sequences", help="Comma-separated sequence names (default: all).")
@shared_options("max_frames", "sam", "sam_weights", "imgsz", "precision", "device", "sets")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep ground truth and predictions here (gt/, pred/); default: a temporary folder.")
@_json_option
def run_command(dataset_dir: Path, layout: str | None, sequences: str | None, work_dir: Path | None,
                json_path: Path | None, **options) -> None:
    """Run a pipeline over a dataset and score it: DAVIS (J&F), MOTChallenge (HOTA) or OTB (AUC).

    VOS and SOT objects are prompted from the first frame's ground truth; MOT objects come from the pipeline's
    detector or, for a pipeline without one (manual-sam2, the default), the sequence's det/det.txt.
    """
    import tempfile

    from autotrack.eval.run import run_dataset

    config = options_config(options["pipeline"] or PROMPTED_PIPELINE, options)
    if work_dir is not None and work_dir.exists() and any(work_dir.iterdir()):
        raise click.ClickException(f"work folder {work_dir} is not empty")
    with tempfile.TemporaryDirectory(prefix="autotrack-eval-") as tmp:
        folder = work_dir or Path(tmp)
        _report(run_dataset(dataset_dir, folder, config, layout=layout, sequences=_names(sequences),
                            max_frames=options["max_frames"]), json_path)


def _names(sequences: str | None) -> list[str] | None:
    """`--sequences A,B` as a list of names (None when not given)."""
    return [name.strip() for name in sequences.split(",")] if sequences else None


def _report(results: Results, json_path: Path | None) -> None:
    """Print an evaluation's table and optionally save it."""
    click.echo(format_table(results))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        click.echo(f"wrote {json_path}")


def format_table(results: Results) -> str:
    """Plain-text table: one row per sequence (COMBINED last), one column per metric."""
    columns = list(next(iter(results.values())))
    name_width = max(len("sequence"), *(len(name) for name in results))
    lines = ["sequence".ljust(name_width) + "".join(f"{col:>10}" for col in columns)]
    for name, metrics in results.items():
        lines.append(name.ljust(name_width) + "".join(_cell(metrics[col]) for col in columns))
    return "\n".join(lines)


def _cell(value: float) -> str:
    """Counts (IDSW) as integers, scores with two decimals, right-aligned."""
    return f"{value:>10}" if isinstance(value, int) else f"{value:>10.2f}"
