"""The role's filter plugins: the parse schedule as OnCalendar (checked by systemd's own parser where it is
installed) and EnvironmentFile quoting (read back by a shell, whose double-quote rules systemd follows)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from tests.support.ansible_role import ROLE_DIR


def _plugin(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"role_{name}", ROLE_DIR / "filter_plugins" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


on_calendar = _plugin("on_calendar")
environment_file = _plugin("environment_file")
rendered = _plugin("rendered")

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _next_elapses(calendar: str, count: int) -> list[dt.datetime]:
    """The next `count` times systemd would fire `calendar`, in UTC, from systemd-analyze itself."""
    assert SYSTEMD_ANALYZE is not None
    output = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", "--iterations", str(count), calendar],
        capture_output=True,
        text=True,
        check=True,
        env={"TZ": "UTC", "LC_ALL": "C"},
    ).stdout
    times = []
    for line in output.splitlines():
        label, _, value = line.strip().partition(": ")
        if label == "Next elapse" or label.startswith("Iter"):
            times.append(dt.datetime.strptime(value.strip()[4:23], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC))
    return times


def _cron_matches(expression: str, moment: dt.datetime) -> bool:
    """A small reference evaluator of the cron expressions below (numbers, *, ranges, steps, lists)."""
    minute, hour, day, month, weekday = expression.split()

    def field(text: str, value: int, low: int) -> bool:
        for item in text.split(","):
            span, _, step = item.partition("/")
            start, end = (low, 10**6) if span == "*" else (int(span.split("-")[0]), int(span.split("-")[-1]))
            if span != "*" and "-" not in span and step:
                end = 10**6
            if start <= value <= end and (value - start) % int(step or 1) == 0:
                return True
        return False

    cron_weekday = moment.isoweekday() % 7
    return (
        field(minute, moment.minute, 0)
        and field(hour, moment.hour, 0)
        and field(day, moment.day, 1)
        and field(month, moment.month, 1)
        and (field(weekday, cron_weekday, 0) or (weekday.split("-")[-1] == "7" and cron_weekday == 0))
    )


CRON_CASES = ["*/5 * * * *", "0 3 * * *", "15,45 6-22 * * 1-5", "30 2 1 */3 *", "0 0 * * 0", "5/20 8 * 1-6 *"]


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("expression", CRON_CASES)
@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris"])
def test_on_calendar_fires_when_cron_would(expression: str, time_zone: str) -> None:
    calendar = on_calendar.cron_to_on_calendar(expression, time_zone)
    elapses = _next_elapses(calendar, 6)
    assert len(elapses) == 6
    zone = ZoneInfo(time_zone)
    for moment in elapses:
        assert _cron_matches(expression, moment.astimezone(zone)), f"{calendar} fires at {moment}"
    # And nothing that cron would run is skipped between the firings (minute by minute, over three days at most).
    moment, end = elapses[0], min(elapses[-1], elapses[0] + dt.timedelta(days=3))
    while moment < end:
        moment += dt.timedelta(minutes=1)
        if _cron_matches(expression, moment.astimezone(zone)):
            assert moment in elapses, f"{calendar} skips {moment}"


@pytest.mark.parametrize(
    ("shorthand", "expected"),
    [("@hourly", "*-*-* *:00:00 UTC"), ("@weekly", "Sun *-*-* 00:00:00 UTC"), ("@monthly", "*-*-1 00:00:00 UTC")],
)
def test_shorthands_follow_cron_not_systemd(shorthand: str, expected: str) -> None:
    assert on_calendar.cron_to_on_calendar(shorthand) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("0 0 1 * 1", "both the day of the month and the day of the week"),
        ("0 0 * * */2", "days of the week"),
        ("0 1-10/2 * * *", "stepped range"),
        ("0 0 * *", "five fields"),
        ("0 0 * * 9", "day of the week"),
    ],
)
def test_schedules_without_an_on_calendar_form_are_refused(expression: str, reason: str) -> None:
    with pytest.raises(on_calendar.ScheduleError, match=reason):
        on_calendar.cron_to_on_calendar(expression)


HOSTILE_VALUES = ['a"b', "a$b ${HOME} $(id)", "back\\slash\\", "`id`", "  spaces  ", "#hash", "'single'", "", "é€"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_environment_file_values_read_back_verbatim(value: str, tmp_path: Path) -> None:
    path = tmp_path / "test.env"
    path.write_text(environment_file.environment_file({"SECRET": value, "OTHER": 5}), encoding="utf-8")
    read = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; printf %s "$SECRET"', "bash", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert read == value


@pytest.mark.parametrize("variables", [{"BAD NAME": "x"}, {"X": "line\nbreak"}, {"X": "nul\x00"}])
def test_environment_file_refuses_what_systemd_cannot_carry(variables: dict[str, str]) -> None:
    with pytest.raises(environment_file.EnvironmentFileError) as error:
        environment_file.environment_file(variables)
    assert "line\nbreak" not in str(error.value)


def test_rendered_file_wants_exactly_one_configmap() -> None:
    objects = [
        {"kind": "ConfigMap", "data": {"vector.yaml": "a: 1\n"}},
        {"kind": "Secret", "data": {"stack.yaml": "no"}},
        {"kind": "ConfigMap", "data": {"stack.yaml": "kind: AnalyticsStack\n"}},
    ]
    assert rendered.rendered_file(objects, "vector.yaml") == "a: 1\n"
    with pytest.raises(rendered.RenderedFileError, match="2 ConfigMaps"):
        rendered.rendered_file([*objects, objects[0]], "vector.yaml")
    with pytest.raises(rendered.RenderedFileError, match="0 ConfigMaps"):
        rendered.rendered_file(objects, "missing.yaml")
