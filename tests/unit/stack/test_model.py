"""The AnalyticsStack model: defaults, invariants with their messages, camelCase in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from georchestra_analytics.stack import AnalyticsStack, InvalidStackError, load_stack, parse_stack
from georchestra_analytics.stack.collector import DISK_BUFFER_MIN_BYTES
from georchestra_analytics.stack.durations import duration_hours, postgres_interval

REPO = Path(__file__).resolve().parents[3]


def stack(spec: dict[str, Any], name: str = "analytics") -> AnalyticsStack:
    return parse_stack(
        {
            "apiVersion": "analytics.georchestra.org/v1alpha1",
            "kind": "AnalyticsStack",
            "metadata": {"name": name, "namespace": "geor"},
            "spec": spec,
        }
    )


MANAGED = {"database": {"managed": {}}}
EXTERNAL = {"database": {"external": {"host": "db.example.org", "credentialsSecret": {"name": "db"}}}}


def refused(spec: dict[str, Any], name: str = "analytics") -> str:
    with pytest.raises(InvalidStackError) as error:
        stack(spec, name)
    return str(error.value)


def test_minimal_stack_takes_the_documented_defaults() -> None:
    spec = stack(MANAGED).spec
    assert spec.database.flavor == "timescaledb"
    assert spec.database.schema_name == "analytics"
    assert spec.database.managed is not None and spec.database.managed.keep_volume_on_delete is True
    assert spec.collector.accepted_scopes == [
        "org.georchestra.gateway.accesslog",
        "org.georchestra.security.accesslog",
    ]
    assert spec.parser.privacy.client_ip == "truncate"
    assert {route.app for route in spec.parser.applications} >= {"geoserver", "geonetwork", "mapstore"}
    assert spec.superset is None and spec.suspend is False


def test_exactly_one_database_location() -> None:
    both = {"database": {**MANAGED["database"], **EXTERNAL["database"]}}
    assert "set exactly one of database.managed and database.external" in refused(both)
    assert "set exactly one of database.managed and database.external" in refused({"database": {}})


def test_each_level_must_outlive_the_refresh_window_of_the_aggregate_above() -> None:
    # The database refuses the same configurations (db.guard): the CRD must refuse them first.
    from georchestra_analytics.db.guard import retention_problems
    from georchestra_analytics.db.settings import DatabaseSettings

    for retention in ({"hourly": "30d"}, {"daily": "100d"}):
        message = refused({**MANAGED, "retention": retention})
        assert "retention.hourly must be longer than aggregates.refreshWindows.daily" in message
    accepted = stack({**MANAGED, "retention": {"hourly": "36d", "daily": "101d"}})
    assert retention_problems(DatabaseSettings.from_stack(accepted)) == []


def test_raw_retention_must_outlive_refresh_windows() -> None:
    message = refused({**MANAGED, "retention": {"raw": "60d"}})  # monthly window defaults to 100d
    assert "retention.raw must be longer than every aggregate refresh window" in message
    assert stack({**MANAGED, "retention": {"raw": "101d"}}).spec.retention.raw == "101d"
    assert stack({**MANAGED, "retention": {"raw": "forever"}}).spec.retention.raw == "forever"


def test_refresh_windows_cover_two_buckets() -> None:
    message = refused({**MANAGED, "aggregates": {"refreshWindows": {"monthly": "30d"}}})
    assert "at least two buckets" in message


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 3 * * MON-FRI", "15,45 */2 1-7 JAN,JUL ?", "@hourly"])
def test_cron_schedules_accepted(schedule: str) -> None:
    assert stack({**MANAGED, "parser": {"schedule": schedule}}).spec.parser.schedule == schedule


@pytest.mark.parametrize("schedule", ["every 5 minutes", "* * * *", "* * * * * *", "@sometimes", "*/5 * * * *\n"])
def test_bad_cron_schedules_refused(schedule: str) -> None:
    assert "parser.schedule must be a cron expression" in refused({**MANAGED, "parser": {"schedule": schedule}})


def test_disk_buffer_minimum_size() -> None:
    small = {**MANAGED, "collector": {"buffer": {"type": "disk", "maxSize": DISK_BUFFER_MIN_BYTES - 1}}}
    assert f"at least {DISK_BUFFER_MIN_BYTES} bytes" in refused(small)
    memory = {**MANAGED, "collector": {"buffer": {"type": "memory", "maxSize": 1}}}
    assert stack(memory).spec.collector.buffer.max_size == 1


def test_unknown_time_zone_and_unknown_keys_are_refused() -> None:
    assert "unknown time zone" in refused({**MANAGED, "timeZone": "Mars/Olympus"})
    assert "spec.colector: Extra inputs are not permitted" in refused({**MANAGED, "colector": {}})


def test_name_must_leave_room_for_child_names() -> None:
    assert "metadata.name" in refused(MANAGED, name="a" * 37)


def test_secrets_are_references_only() -> None:
    # A password written inline has nowhere to go: the key is unknown and refused.
    spec = {"database": {"external": {"host": "db", "credentialsSecret": {"name": "db"}, "password": "x"}}}
    assert "password" in refused(spec)


def test_camel_case_round_trip() -> None:
    original = stack(EXTERNAL).spec
    document = stack(EXTERNAL).spec_document()
    assert "credentialsSecret" in document["database"]["external"]
    assert stack(document).spec == original


def test_quantities_accept_numbers() -> None:
    spec = {**MANAGED, "collector": {"resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}}
    assert stack(spec).spec.collector.resources.limits == {"cpu": "2", "memory": "1Gi"}


def test_durations() -> None:
    assert duration_hours("36h") == 36
    assert duration_hours("2w") == 336
    assert duration_hours("1y") == 8760
    assert duration_hours("forever") is None
    assert postgres_interval("90d") == "90 days"
    assert postgres_interval("1y") == "365 days"
    with pytest.raises(ValueError, match="not a duration"):
        duration_hours("90 days")


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_load(example: Path) -> None:
    assert load_stack(example).kind == "AnalyticsStack"


def test_load_stack_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(
        "kind: AnalyticsStack\nmetadata: {name: a}\nspec:\n  database: {managed: {}}\n  parser: {batchSize: 0}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidStackError) as error:
        load_stack(path)
    assert str(path) in str(error.value) and "spec.parser.batchSize" in str(error.value)


def test_application_prefixes_are_unique() -> None:
    routes = [{"pathPrefix": "/geoserver", "app": "a"}, {"pathPrefix": "/geoserver", "app": "b"}]
    assert "mapped twice" in refused({**MANAGED, "parser": {"applications": routes}})


def test_an_unreadable_status_does_not_block_the_spec() -> None:
    document = {"kind": "AnalyticsStack", "metadata": {"name": "a"}, "spec": MANAGED, "status": {"phase": "Weird"}}
    assert parse_stack(document).status.phase is None
    document["status"] = {"phase": "Ready", "observedGeneration": 3, "futureField": 1}
    parsed = parse_stack(document).status
    assert (parsed.phase, parsed.observed_generation) == ("Ready", 3)
