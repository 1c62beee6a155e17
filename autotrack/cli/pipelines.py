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
        text = path.read_text()
        sam = (yaml.safe_load(text) or {}).get("sam", {})
        click.echo(f"{name:14s} {sam.get('model', '')} imgsz {sam.get('imgsz', '')}: {description(text)}")
    click.echo(f"files: {next(iter(pipelines.values())).parent}")


def description(text: str) -> str:
    """A pipeline file's description: its leading comment lines, joined into one paragraph."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(line for line in lines if line)
