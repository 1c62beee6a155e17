"""The `autotrack` command line: the only package that imports click.

`main` (app.py) is the command group and its error handling; common.py holds the options and helpers several
commands share; every other module is one command. Commands call the library below them and never the reverse.
"""

from autotrack.cli.app import main

__all__ = ["main"]
