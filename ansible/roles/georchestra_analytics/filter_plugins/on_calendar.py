"""`cron_to_on_calendar`: the stack's parse schedule (a CronJob's cron expression) as a systemd OnCalendar.

The operator hands `spec.parser.schedule` to a Kubernetes CronJob; on a VM the same schedule drives a systemd
timer, so the two deployments parse at the same times. Cron runs a job when the day of the month OR the day of
the week matches (when both are restricted); OnCalendar requires both: that case is refused, with the variable
that lets the admin write the OnCalendar expression by hand.
"""

from __future__ import annotations

import re
from typing import Any

SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",  # cron's week starts on Sunday (systemd's `weekly` is Monday)
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # cron numbers 0..7, 0 and 7 are Sunday
OVERRIDE_VARIABLE = "georchestra_analytics_parse_on_calendar"
_ITEM = re.compile(r"^(?P<range>\*|\?|[0-9A-Za-z]{1,3}(-[0-9A-Za-z]{1,3})?)(/(?P<step>[0-9]{1,2}))?$")


class ScheduleError(ValueError):
    """A cron expression this filter cannot express as OnCalendar."""


def _number(token: str, field: str) -> int:
    if field == "month" and token.lower() in MONTHS:
        return MONTHS.index(token.lower()) + 1
    if field == "weekday" and token.lower() in [day.lower() for day in WEEKDAYS]:
        return [day.lower() for day in WEEKDAYS].index(token.lower())
    if not token.isdigit():
        raise ScheduleError(f"{token!r} is not a valid {field}")
    return int(token)


def _value(number: int, field: str) -> str:
    if field == "weekday":
        if number > 7:
            raise ScheduleError(f"{number} is not a day of the week (0-7)")
        return WEEKDAYS[number]
    return f"{number:02d}" if field in ("minute", "hour") else str(number)


def _item(item: str, field: str, first: int) -> str:
    match = _ITEM.match(item)
    if match is None:
        raise ScheduleError(f"{item!r} is not a cron {field}")
    span, step = match.group("range"), match.group("step")
    if span in ("*", "?"):
        if step is None:
            return "*"
        if field == "weekday":
            raise ScheduleError("a step over the days of the week has no OnCalendar form")
        return f"{_value(first, field)}/{int(step)}"
    low, _, high = span.partition("-")
    start = _value(_number(low, field), field)
    if not high:
        return start if step is None else f"{start}/{int(step)}"
    if step is not None:
        raise ScheduleError(f"{item!r}: a stepped range has no OnCalendar form")
    return f"{start}..{_value(_number(high, field), field)}"


def _field(text: str, field: str, first: int) -> str:
    return ",".join(_item(item, field, first) for item in text.split(","))


def cron_to_on_calendar(schedule: str, time_zone: str = "UTC") -> str:
    """`*/5 * * * *` in Europe/Paris -> `*-*-* *:00/5:00 Europe/Paris`."""
    expression = SHORTHANDS.get(schedule.strip(), schedule.strip())
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(f"{schedule!r} is not a cron expression of five fields")
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ScheduleError(
            f"{schedule!r} restricts both the day of the month and the day of the week (cron matches either, "
            f"OnCalendar both): set {OVERRIDE_VARIABLE} to the OnCalendar expression you mean"
        )
    calendar = (
        f"*-{_field(month, 'month', 1)}-{_field(day, 'day', 1)} "
        f"{_field(hour, 'hour', 0)}:{_field(minute, 'minute', 0)}:00 {time_zone}"
    )
    days = _field(weekday, "weekday", 0)
    return calendar if days == "*" else f"{days} {calendar}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"cron_to_on_calendar": cron_to_on_calendar}
