"""`python -m autotrack.cli ...`: the same as the `autotrack` command."""

from autotrack.cli.app import main

main()
