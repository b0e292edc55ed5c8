"""The VRL programs as the rendered configuration holds them (after Vector's environment interpolation), run
by the real VRL compiler: what Vector would run, minus Vector."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.vector import (
    BUFFER_COLUMNS,
    COLLECTOR_SCENARIOS,
    NGINX_COMBINED_LINE,
    SECURITY_PROXY_LINE,
    gateway_event,
    load_config,
    run_condition,
    run_remap,
    stack_document,
    transform_sources,
)
from vrl_python import VRLRuntime

from georchestra_analytics.render.vector import (
    BUFFER_DSN_ENV,
    CollectorSettings,
    SyslogSettings,
    render_collector_config,
    render_vector_config,
)
from georchestra_analytics.stack import parse_stack

ENVIRONMENT = {BUFFER_DSN_ENV: "postgresql://collector@db/analytics"}


def rendered_programs(scenario: str) -> tuple[dict[str, Any], dict[str, str]]:
    collector, schema = COLLECTOR_SCENARIOS[scenario]
    config = load_config(render_vector_config(parse_stack(stack_document(collector, schema))), ENVIRONMENT)
    return config, transform_sources(config)


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_every_rendered_program_compiles(scenario: str) -> None:
    _, programs = rendered_programs(scenario)
    assert programs
    for name, program in programs.items():
        assert VRLRuntime.check_syntax(program) is None, name


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_gateway_access_log_goes_through_as_one_buffer_row(scenario: str) -> None:
    config, programs = rendered_programs(scenario)
    accepted = config["transforms"]["access_log_scopes"]
    assert accepted["inputs"] == ["otlp.logs"]
    event = gateway_event()
    assert run_condition(programs["access_log_scopes"], event)
    row = run_remap(programs["buffer_rows"], event).event
    assert set(row) == BUFFER_COLUMNS
    assert row["message"] == event["message"]
    assert row["attributes"] == event["attributes"]


@pytest.mark.parametrize("scenario", sorted(COLLECTOR_SCENARIOS))
def test_application_logs_are_filtered_out(scenario: str) -> None:
    _, programs = rendered_programs(scenario)
    event = gateway_event(scope={"name": "org.springframework.web.servlet.DispatcherServlet"}, message="Completed")
    assert not run_condition(programs["access_log_scopes"], event)


def test_configured_scopes_replace_the_defaults() -> None:
    _, programs = rendered_programs("custom scopes and schema")
    condition = programs["access_log_scopes"]
    assert run_condition(condition, gateway_event(scope={"name": "com.example.portal.accesslog"}))
    assert not run_condition(condition, gateway_event(scope={"name": "org.georchestra.security.accesslog"}))


@pytest.mark.parametrize(("scenario", "transform"), [("every source", "syslog_lines"), ("files", "file_lines")])
def test_text_lines_go_through_as_buffer_rows(scenario: str, transform: str) -> None:
    collector, _ = COLLECTOR_SCENARIOS[scenario]
    expected_format = (collector.get("files") or collector.get("syslog") or {}).get("logFormat", "combined")
    _, programs = rendered_programs(scenario)
    read_at = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    for line in (SECURITY_PROXY_LINE, NGINX_COMBINED_LINE):
        shaped = run_remap(programs[transform], {"message": line, "timestamp": read_at, "source_type": "file"})
        row = run_remap(programs["buffer_rows"], shaped.event)
        assert set(row.event) == BUFFER_COLUMNS
        assert row.event["message"] == line
        assert row.event["attributes"]["log.format"] == expected_format
        assert row.kinds["timestamp"] == "timestamp"


@settings(max_examples=100, deadline=None)
@given(scope=st.text(min_size=1, max_size=40), log_format=st.text(max_size=20))
def test_hostile_stack_values_reach_vrl_unchanged(scope: str, log_format: str) -> None:
    # Through Jinja, YAML and Vector's `$` interpolation, a scope or format reaches VRL exactly as written.
    text = render_collector_config(
        CollectorSettings(accepted_scopes=(scope,), syslog=SyslogSettings(port=5140, mode="tcp", log_format=log_format))
    )
    programs = transform_sources(load_config(text, ENVIRONMENT))
    assert run_condition(programs["access_log_scopes"], {"scope": {"name": scope}})
    assert not run_condition(programs["access_log_scopes"], {"scope": {"name": scope + "."}})
    shaped = run_remap(programs["syslog_lines"], {"message": "GET / 200"}).event
    assert shaped["attributes"]["log.format"] == log_format
