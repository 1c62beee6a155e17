"""`autotrack serve [SOURCE ...]`: the browser console (see `autotrack.serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from autotrack.cli.common import choose_pipeline, live_options
from autotrack.cli.options import config_overrides, pipeline_options

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
@click.option("--cameras", "cameras_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A camera list (YAML) to start with; sources added or removed from the console are written "
                   "back to it. See docs/console.md.")
@click.option("--mqtt", metavar="HOST[:PORT]",
              help="Send each source's events to this MQTT broker (user and password from AUTOTRACK_MQTT_USER and "
                   "AUTOTRACK_MQTT_PASSWORD). See docs/console.md.")
@click.option("--webhook", "webhooks", metavar="URL", multiple=True,
              help="POST each source's events to this url as JSON (repeatable): https, or http to this machine or "
                   "a private network; signed when AUTOTRACK_WEBHOOK_SECRET is set. See docs/console.md.")
@click.option("--ray", "ray_address", metavar="auto|ADDRESS",
              help="Run the streams on Ray actors across a cluster: 'auto' (the cluster this machine is in), "
                   "ray://HEAD:10001 or 'local'. See docs/live.md.")
@click.option("--streams-per-actor", type=click.IntRange(1, 64), default=4, show_default=True,
              help="With --ray: streams on the same models share an actor, up to this many.")
@click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=1, show_default=True,
              help="With --ray: CPUs each actor asks for (torch uses that many threads).")
@click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=0, show_default=True,
              help="With --ray: GPUs each actor asks for (0.5 puts two actors on one GPU).")
def serve_command(sources, host, port, token, output_dir, max_sources, reconnect, cameras_file, mqtt, webhooks,
                  ray_address, streams_per_actor, cpus_per_actor, gpus_per_actor, **options) -> None:
    """Open a browser console on SOURCEs (video files, image folders, webcams, stream URLs; more can be added from
    the page): watch the annotated frames, click to follow objects, see every ID and event, download the results.
    """
    try:
        import uvicorn

        from autotrack.serve import Console, RunOptions, check_host, create_app
        from autotrack.serve.cameras import check_cameras, read_cameras
        from autotrack.serve.mqtt import MqttSettings
        from autotrack.serve.webhooks import check_webhook
        if mqtt:
            import paho.mqtt  # noqa: F401 (the mqtt extra)
        if ray_address:
            import ray  # noqa: F401 (the ray extra)
    except ImportError as error:
        extras = "ray" if error.name == "ray" else "serve,mqtt" if mqtt else "serve"
        raise click.ClickException(f"autotrack serve needs the {extras} extras ({error.name} is missing): "
                                   f'pip install "autotrack[{extras}]"') from None

    check_host(host, token)
    for url in webhooks:
        check_webhook(url)
    if gpus_per_actor and not ray_address:
        raise click.UsageError("--gpus-per-actor needs --ray (without it every source runs here, on --device)")
    if cameras_file is not None and sources:
        raise click.UsageError("give the sources in the camera list (--cameras) or as arguments, not both")
    config, prompts = choose_pipeline(options)
    cameras = read_cameras(cameras_file) if cameras_file is not None else []
    overrides = config_overrides(options)[0]  # also on a camera's own pipeline
    check_cameras(cameras, config, overrides)
    check_serve_paths((*sources, *(camera.source() for camera in cameras)), output_dir, config, options["pipeline"],
                      prompts, resources=not ray_address)
    if len(sources) + len(cameras) > max_sources:
        raise click.UsageError(f"{len(sources) + len(cameras)} sources given, --max-sources is {max_sources}")
    run_options = RunOptions(config, overrides, prompts=prompts, max_frames=options["max_frames"],
                             reconnect=live_options(None, reconnect)["reconnect"], output_dir=Path(output_dir),
                             mqtt=MqttSettings.parse(mqtt) if mqtt else None, webhooks=webhooks)
    if ray_address:
        from autotrack.cluster import connect
        from autotrack.serve.remote import RayConsole

        connect(ray_address)
        console = RayConsole(run_options, max_sources, cameras_file, streams_per_actor, cpus_per_actor, gpus_per_actor)
    else:
        console = Console(run_options, max_sources, cameras_file)
    app = create_app(console, token, [*sources, *cameras])
    address = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    click.echo(f"autotrack console on {address}" + ("?token=..." if token else "") + " (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, ws_max_size=64 * 1024,
                timeout_graceful_shutdown=5)


def check_serve_paths(sources: tuple[str, ...], output_dir: str, config: PipelineConfig, pipeline: str | None,
                      prompts: ManualPrompts | None, resources: bool = True) -> None:
    """Before the server starts: every SOURCE path exists, the weights are here, no input lies in the output folder
    (where each source's runs write their own new folders) nor the other way round, and (with `resources`; not for
    Ray actors, which check on their nodes) the device and the memory fit."""
    from autotrack.paths import NamedPath, check_paths, source_paths
    from autotrack.pipeline import check_resources, check_weights, run_inputs
    from autotrack.serve.console import check_source

    for spec in sources:
        check_source(spec)
    inputs = [named for spec in sources for named in source_paths(spec)]
    check_paths([*inputs, *run_inputs(config, pipeline, prompts)], [NamedPath("--output-dir", output_dir, True)])
    check_weights(config)
    if resources:
        check_resources(config)
