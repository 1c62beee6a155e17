"""The `autotrack` command group: wires the commands and turns errors into what a user can act on.

An `AutotrackError` (or a missing or unwritable file) is the user's to fix: one line on stderr, exit code 1. Any
other exception is a bug: a short message saying so, the traceback saved to a log file to attach to a report, exit
code 1. Click's own usage errors keep exit code 2.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from autotrack import __version__
from autotrack.cli.batch import batch_command
from autotrack.cli.bench import bench_command
from autotrack.cli.eval import eval_group
from autotrack.cli.export import export_command
from autotrack.cli.pipelines import pipelines_command
from autotrack.cli.serve import serve_command
from autotrack.cli.track import track_command
from autotrack.cli.weights import weights_command
from autotrack.errors import AutotrackError, one_line
from autotrack.quiet import show_video_io

USER_ERRORS = (AutotrackError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
LOG_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autotrack" / "logs"


class AutotrackGroup(click.Group):
    """A click group that reports user errors in one line and bugs with a saved traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except USER_ERRORS as error:
            raise click.ClickException(one_line(error)) from None
        except BrokenPipeError:  # stdout closed early (`autotrack pipelines | head`): nothing left to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail
            ctx.exit(1)
        except Exception as error:  # anything else is ours to fix
            log = save_traceback(error)
            click.echo(f"Error: this is a bug in autotrack ({type(error).__name__}: {one_line(error)}).\n"
                       f"The traceback is in {log}; please attach it to a report.", err=True)
            ctx.exit(1)


def save_traceback(error: BaseException) -> Path:
    """Write the error's traceback to a new file in LOG_DIR (or the temporary folder if that cannot be written)."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (LOG_DIR, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(f"autotrack {__version__}\n{text}")
            return folder / name
        except OSError:
            continue
    return Path(name)


@click.group(cls=AutotrackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autotrack")
@click.option("-v", "--verbose", is_flag=True, help="Show FFmpeg's and OpenCV's own messages.")
def main(verbose: bool) -> None:
    """Find, segment and follow every object in a video or camera feed."""
    if verbose:
        show_video_io()  # silenced when autotrack was imported


main.add_command(track_command)
main.add_command(batch_command)
main.add_command(pipelines_command)
main.add_command(eval_group)
main.add_command(weights_command)
main.add_command(bench_command)
main.add_command(serve_command)
main.add_command(export_command)
