"""`autotrack serve [SOURCE ...]`: the browser console (see `autotrack.serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from autotrack.cli.common import choose_pipeline, live_options
from autotrack.cli.options import pipeline_options

if TYPE_CHECKING:
    from autotrack.config import PipelineConfig
    from autotrack.prompters.manual import ManualPrompts

TOKEN_ENV = "AUTOTRACK_TOKEN"


@click.command("serve")
@click.argument("sources", nargs=-1)
@pipeline_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; any other than this machine's needs a token.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--token", envvar=TOKEN_ENV, help=f"Required on every request (or set {TOKEN_ENV}).")
@click.option("--output-dir", default="serve-output", show_default=True, type=click.Path(file_okay=False),
              help="Each source writes DIR/<source>/run-<n>/tracks.txt (MOT) and tracks.json (COCO).")
@click.option("--max-sources", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--reconnect", metavar="N|forever", default="forever", show_default=True,
              help="Streams: reconnect attempts after the input is lost.")
def serve_command(sources, host, port, token, output_dir, max_sources, reconnect, **options) -> None:
    """Open a browser console on SOURCEs (video files, image folders, webcams, stream URLs; more can be added from
    the page): watch the annotated frames, click to follow objects, see every ID and event, download the results.
    """
    try:
        import uvicorn

        from autotrack.serve import Console, RunOptions, check_host, create_app
    except ImportError as error:
        raise click.ClickException(f"autotrack serve needs the serve extra ({error.name} is missing): "
                                   'pip install "autotrack[serve]"') from None

    check_host(host, token)
    if len(sources) > max_sources:
        raise click.UsageError(f"{len(sources)} sources given, --max-sources is {max_sources}")
    config, prompts = choose_pipeline(options)
    check_serve_paths(sources, output_dir, config, options["pipeline"], prompts)
    run_options = RunOptions(config, prompts=prompts, max_frames=options["max_frames"],
                             reconnect=live_options(None, reconnect)["reconnect"], output_dir=Path(output_dir))
    app = create_app(Console(run_options, max_sources), token, sources)
    address = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    click.echo(f"autotrack console on {address}" + ("?token=..." if token else "") + " (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, ws_max_size=64 * 1024,
                timeout_graceful_shutdown=5)


def check_serve_paths(sources: tuple[str, ...], output_dir: str, config: PipelineConfig, pipeline: str | None,
                      prompts: ManualPrompts | None) -> None:
    """Before the server starts: every SOURCE path exists, the weights are here, no input lies in the output folder
    (where each source's runs write their own new folders) nor the other way round, the device and the memory fit."""
    from autotrack.paths import NamedPath, check_paths, source_paths
    from autotrack.pipeline import check_resources, check_weights, run_inputs
    from autotrack.serve.console import check_source

    for spec in sources:
        check_source(spec)
    inputs = [named for spec in sources for named in source_paths(spec)]
    check_paths([*inputs, *run_inputs(config, pipeline, prompts)], [NamedPath("--output-dir", output_dir, True)])
    check_weights(config)
    check_resources(config)
