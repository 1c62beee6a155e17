"""`autotrack export`: a model's per-frame stages as OpenVINO or ONNX graphs in a folder, for `--runtime`."""

from __future__ import annotations

from pathlib import Path

import click

from autotrack.cli.options import PROMPTED_PIPELINE, options_config, shared_options
from autotrack.runtimes import FORMATS


@click.command("export")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="openvino", show_default=True,
              help="openvino (OpenVINO's format, for --runtime openvino) or onnx (for --runtime onnxruntime; "
                   "OpenVINO reads it too).")
@shared_options("sam", "sam_weights", "imgsz", "precision", "sets")
def export_command(out_dir: Path, fmt: str, **options) -> None:
    """Export the model's stages (image encoder, memory attention, mask decoder, memory encoder) to OUT_DIR, a new
    or empty folder, with a manifest; run them with `--runtime ... --sam-weights OUT_DIR`."""
    from autotrack.runtimes.load import export_model

    sam = options_config(PROMPTED_PIPELINE, options).sam
    manifest = export_model(sam.model, sam.weights, sam.imgsz, fmt, sam.precision, out_dir)
    click.echo(f"exported {manifest.model} at {manifest.imgsz} px ({manifest.format}, {manifest.precision}): "
               f"{len(manifest.stages)} graphs in {out_dir}")
