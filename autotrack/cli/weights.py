"""`autotrack weights`: which models exist, which files they accept, and which are on this machine."""

from __future__ import annotations

import click

from autotrack.weights import MODELS, find_local, search_dirs


@click.command("weights")
def weights_command() -> None:
    """List SAM2, EdgeTAM and SAM 3 models, their file names, and where each was found."""
    click.echo(f"searched: {', '.join(str(d) for d in search_dirs())}")
    for name, spec in MODELS.items():
        local = find_local(name)
        if local:
            where = str(local)
        else:  # a gated model says how to accept its licence and download it
            where = f"missing ({spec.gate or f'get {spec.urls[0]}'})"
        click.echo(f"{name:10s} {' or '.join(spec.files):46s} {where}")
