"""The `-f STACK.yaml` of every command: the stack, or a one-line refusal naming the field."""

from __future__ import annotations

from georchestra_analytics.cli.exits import Refused
from georchestra_analytics.stack import AnalyticsStack, InvalidStackError, load_stack


def read_stack(path: str) -> AnalyticsStack:
    try:
        return load_stack(path)
    except (OSError, InvalidStackError) as error:
        raise Refused(str(error)) from None
