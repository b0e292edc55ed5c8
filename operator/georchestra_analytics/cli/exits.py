"""Exit codes shared by every command, so scripts and Kubernetes Jobs can tell faults apart, and the one-line
refusal of a bad input."""

from __future__ import annotations

import click

EXIT_FAILURE = 1  # a system fault: database unreachable, API refused, ...
EXIT_USAGE = 2  # bad arguments or an invalid stack file (click uses 2 for usage errors too)


class Refused(click.ClickException):
    """An input refused: printed as one line (`Error: <file>: <field>: <why>`), not as click's usage block,
    and exit code 2."""

    exit_code = EXIT_USAGE
