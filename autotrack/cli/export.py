"""`autotrack export`: a model's per-frame stages as OpenVINO or ONNX graphs in a folder, for `--runtime`."""

from __future__ import annotations

from pathlib import Path

import click

from autotrack.cli.options import PROMPTED_PIPELINE, options_config, shared_options
from autotrack.errors import InputError
from autotrack.runtimes import FORMATS


@click.command("export")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="openvino", show_default=True,
              help="openvino (OpenVINO's format, for --runtime openvino) or onnx (for --runtime onnxruntime; "
                   "OpenVINO reads it too).")
@click.option("--calibrate", metavar="VIDEO",
              help="With --precision int8 (OpenVINO): the clip to calibrate on, its first --max-frames frames "
                   "(default 30) with the objects of --box (default: a centred box).")
@shared_options("sam", "sam_weights", "imgsz", "precision", "boxes", "max_frames", "sets")
def export_command(out_dir: Path, fmt: str, calibrate: str | None, boxes: tuple[str, ...], max_frames: int | None,
                   **options) -> None:
    """Export the model's stages (image encoder, memory attention, mask decoder, memory encoder) to OUT_DIR, a new
    or empty folder, with a manifest; run them with `--runtime ... --sam-weights OUT_DIR`. `--precision int8
    --calibrate VIDEO` quantizes the image encoder and reports how far the masks agree with fp32's on that
    clip."""
    from autotrack.prompters.manual import ManualPrompts
    from autotrack.runtimes.calibrate import CALIBRATION_FRAMES, read_calibration
    from autotrack.runtimes.export import check_int8
    from autotrack.runtimes.load import export_model

    int8 = options["precision"] == "int8"  # an export precision only: the config's precisions are the engine's
    check_int8(fmt, options["precision"], calibrate is not None)
    if (boxes or max_frames) and calibrate is None:
        raise InputError("--box and --max-frames choose the calibration clip's objects and frames: add --calibrate")
    sam = options_config(PROMPTED_PIPELINE, {**options, "precision": None if int8 else options["precision"]}).sam
    calibration = None
    if calibrate is not None:
        prompts = {user.object_id: user.prompt for user in ManualPrompts.from_options(boxes=boxes).at(0)}
        calibration = read_calibration(calibrate, max_frames or CALIBRATION_FRAMES, prompts)
    manifest = export_model(sam.model, sam.weights, sam.imgsz, fmt, "int8" if int8 else sam.precision, out_dir,
                            calibration)
    click.echo(f"exported {manifest.model} at {manifest.imgsz} px ({manifest.format}, {manifest.precision}): "
               f"{len(manifest.stages)} graphs in {out_dir}")
    if manifest.agreement:
        click.echo(f"int8 ({', '.join(manifest.int8_stages)}) against fp32 on {manifest.agreement['frames']} "
                   f"calibration frames: mask IoU min {manifest.agreement['iou_min']:.3f}, "
                   f"mean {manifest.agreement['iou_mean']:.3f}")
