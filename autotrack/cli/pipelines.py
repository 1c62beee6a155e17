"""`autotrack pipelines`: the ready pipelines shipped with the package."""

from __future__ import annotations

import click

from autotrack.config import builtin_pipelines


@click.command("pipelines")
def pipelines_command() -> None:
    """List the ready pipelines and the folder that holds them (copy one to start your own, run it with -p FILE)."""
    import yaml

    pipelines = builtin_pipelines()
    for name, path in pipelines.items():
        first = path.read_text().splitlines()[0].lstrip("# ")
        sam = (yaml.safe_load(path.read_text()) or {}).get("sam", {})
        click.echo(f"{name:14s} {sam.get('model', '')} imgsz {sam.get('imgsz', '')}: {first}")
    click.echo(f"files: {next(iter(pipelines.values())).parent}")
