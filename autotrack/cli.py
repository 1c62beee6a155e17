"""The `autotrack` command line. Each command lives with the code it drives; this module only wires them."""

from __future__ import annotations

import click

from autotrack import __version__
from autotrack.batch_cli import batch_command
from autotrack.bench_cli import bench_command
from autotrack.eval.cli import eval_group
from autotrack.serve_cli import serve_command
from autotrack.track_cli import pipelines_command, track_command
from autotrack.weights_cli import weights_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autotrack")
def main() -> None:
    """Find, segment and follow every object in a video or camera feed."""


main.add_command(track_command)
main.add_command(batch_command)
main.add_command(pipelines_command)
main.add_command(eval_group, "eval")
main.add_command(weights_command)
main.add_command(bench_command)
main.add_command(serve_command)
