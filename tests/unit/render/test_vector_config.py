"""The rendered Vector configuration, read the way Vector reads it and walked as a graph, for each scenario."""

from __future__ import annotations

import posixpath
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.vector import (
    COLLECTOR_SCENARIOS,
    HOSTILE_VALUES,
    MissingEnvironmentVariable,
    hostile_settings,
    load_config,
    stack_document,
    topology_problems,
)

from georchestra_analytics.render.vector import (
    ACCESS_LOG_FILES_MOUNT,
    API_PORT,
    BUFFER_DSN_ENV,
    BUFFER_TABLE,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    CollectorSettings,
    FileSettings,
    quoted_table_name,
    render_collector_config,
    render_vector_config,
)
from georchestra_analytics.stack import AnalyticsStack, parse_stack

DSN = "postgresql://collector:p%40ss%22w%24rd@analytics-db.georchestra.svc:5432/analytics?sslmode=require"
ENVIRONMENT = {BUFFER_DSN_ENV: DSN}


def scenario_stack(name: str) -> AnalyticsStack:
    collector, schema = COLLECTOR_SCENARIOS[name]
    return parse_stack(stack_document(collector, schema))


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def reaches(config: dict[str, Any], start: str, sink: str) -> bool:
    """Whether events leaving `start` arrive at `sink` (following `inputs`, named outputs included)."""
    consumers: dict[str, list[str]] = {}
    for section in ("transforms", "sinks"):
        for name, component in config.get(section, {}).items():
            for reference in component["inputs"]:
                owner = reference if reference in config["sources"] or reference in config["transforms"] else None
                owner = owner or reference.rpartition(".")[0]
                consumers.setdefault(owner, []).append(name)
    frontier, seen = [start], set()
    while frontier:
        name = frontier.pop()
        if name == sink:
            return True
        if name not in seen:
            seen.add(name)
            frontier.extend(consumers.get(name, []))
    return False


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_scenario_is_a_complete_graph(scenario: str) -> None:
    config = load_config(render_vector_config(scenario_stack(scenario)), ENVIRONMENT)
    assert topology_problems(config) == []


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_every_log_source_reaches_the_buffer_table(scenario: str) -> None:
    stack = scenario_stack(scenario)
    config = load_config(render_vector_config(stack), ENVIRONMENT)
    log_sources = [name for name, source in config["sources"].items() if source["type"] != "internal_metrics"]
    expected = 1 + (stack.spec.collector.syslog is not None) + (stack.spec.collector.files is not None)
    assert len(log_sources) == expected
    for name in log_sources:
        assert reaches(config, name, "buffer_table"), name


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_ports_table_and_buffer_match_the_stack(scenario: str) -> None:
    stack = scenario_stack(scenario)
    collector = stack.spec.collector
    config = load_config(render_vector_config(stack), ENVIRONMENT)

    otlp = config["sources"]["otlp"]
    assert otlp["type"] == "opentelemetry"
    assert port_of(otlp["grpc"]["address"]) == OTLP_GRPC_PORT
    assert port_of(otlp["http"]["address"]) == OTLP_HTTP_PORT
    assert config["api"] == {"enabled": True, "address": f"0.0.0.0:{API_PORT}"}

    sink = config["sinks"]["buffer_table"]
    assert sink["type"] == "postgres"
    assert sink["table"] == quoted_table_name(stack.spec.database.schema_name, BUFFER_TABLE)
    assert sink["endpoint"] == DSN
    assert sink["acknowledgements"] == {"enabled": collector.acknowledgements}
    assert sink["buffer"]["type"] == collector.buffer.type
    assert sink["buffer"]["when_full"] == collector.buffer.when_full
    if collector.buffer.type == "disk":
        assert sink["buffer"]["max_size"] == collector.buffer.max_size
    else:
        assert sink["buffer"]["max_events"] == collector.buffer.max_events

    if collector.syslog is None:
        assert "access_log_syslog" not in config["sources"]
    else:
        syslog = config["sources"]["access_log_syslog"]
        assert syslog["mode"] == collector.syslog.mode
        assert port_of(syslog["address"]) == collector.syslog.port
    if collector.files is None:
        assert "access_log_files" not in config["sources"]
    else:
        include = config["sources"]["access_log_files"]["include"]
        assert include == [posixpath.join(ACCESS_LOG_FILES_MOUNT, path) for path in collector.files.paths]
        # text_line.vrl names a file line's record by its byte offset, which Vector adds only when asked.
        assert config["sources"]["access_log_files"]["offset_key"] == "offset"


def test_table_name_is_quoted_for_the_sink() -> None:
    assert quoted_table_name("analytics", "otel_buffer") == '"analytics"."otel_buffer"'
    assert quoted_table_name('a"; DROP TABLE x; --', "t") == '"a""; DROP TABLE x; --"."t"'


def test_no_sink_prints_or_ships_user_data_elsewhere() -> None:
    config = load_config(render_vector_config(scenario_stack("every source")), ENVIRONMENT)
    kinds = {name: sink["type"] for name, sink in config["sinks"].items()}
    assert kinds == {"buffer_table": "postgres", "collector_metrics_exporter": "prometheus_exporter"}
    # The metrics exporter reads Vector's own counters only.
    assert config["sinks"]["collector_metrics_exporter"]["inputs"] == ["collector_metrics"]
    assert config["sources"]["collector_metrics"]["type"] == "internal_metrics"


def test_database_url_comes_only_from_the_environment() -> None:
    text = render_vector_config(scenario_stack("defaults"))
    raw = yaml.safe_load(text)
    assert raw["sinks"]["buffer_table"]["endpoint"].startswith("${" + BUFFER_DSN_ENV + ":?")
    assert "postgres://" not in text and "postgresql://" not in text
    with pytest.raises(MissingEnvironmentVariable, match=BUFFER_DSN_ENV):
        load_config(text, {})


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://collector@db:5432/analytics",  # password in PGPASSWORD
        "postgres://u:%23%20%27%22%5C%7D@[2001:db8::1]:6432/analytics?sslmode=verify-full&application_name=vector",
    ],
)
def test_any_database_url_is_read_back_whole(dsn: str) -> None:
    config = load_config(render_vector_config(scenario_stack("defaults")), {BUFFER_DSN_ENV: dsn})
    assert config["sinks"]["buffer_table"]["endpoint"] == dsn


def test_rendering_is_deterministic() -> None:
    stack = scenario_stack("every source")
    assert render_vector_config(stack) == render_vector_config(stack)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_values_are_read_back_exactly(value: str) -> None:
    without_nul = value.replace("\x00", "")
    config = load_config(render_collector_config(hostile_settings(value)), ENVIRONMENT)
    assert topology_problems(config) == []
    assert config["sinks"]["buffer_table"]["table"] == quoted_table_name(without_nul, BUFFER_TABLE)
    assert config["sources"]["access_log_files"]["include"] == [posixpath.join(ACCESS_LOG_FILES_MOUNT, without_nul)]


def test_schema_name_postgresql_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot name a PostgreSQL schema"):
        render_collector_config(CollectorSettings(schema="a\x00b"))


@settings(max_examples=100, deadline=None)
@given(
    scopes=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4),
    path=st.text(min_size=1, max_size=30).filter(
        lambda p: not p.startswith("/") and "\x00" not in p and ".." not in p.split("/")
    ),
)
def test_any_stack_values_keep_the_config_readable(scopes: list[str], path: str) -> None:
    settings_ = CollectorSettings(accepted_scopes=tuple(scopes), files=FileSettings(paths=(path,), log_format="clf"))
    config = load_config(render_collector_config(settings_), ENVIRONMENT)
    assert topology_problems(config) == []
    assert config["sources"]["access_log_files"]["include"] == [posixpath.join(ACCESS_LOG_FILES_MOUNT, path)]


@pytest.mark.parametrize("path", ["../etc/shadow", "logs/../../etc", "/var/log/nginx/access.log", "", "a\x00b"])
def test_file_paths_leaving_the_volume_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match=r"collector\.files\.paths"):
        render_collector_config(CollectorSettings(files=FileSettings(paths=(path,), log_format="clf")))


def test_no_accepted_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="acceptedScopes"):
        render_collector_config(CollectorSettings(accepted_scopes=()))
