"""The chart's PrometheusRule: rendered only where the Prometheus Operator's kind is served, equal to its golden
files, accepted by Prometheus' own checker (`promtool check rules`, lints fatal), and each alert firing exactly in
its failure case and staying quiet when the stack is healthy (`promtool test rules` on series written here).
Values that reach PromQL are quoted: a hostile label value selects exactly the series that carry it; values that
are not what they claim (a duration, a number, a label name) make `helm template` fail.

UPDATE_GOLDEN=1 rewrites tests/helm/golden/prometheusrule/ from the real helm binary; review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support import alert_rules
from tests.support.helm_chart import UPDATE_GOLDEN_ENV, HelmError
from tests.support.k8s_assets import AssetsError
from tests.support.promtool import PROMTOOL, check_rules, ensure_promtool

STACK = {"stack_namespace": "geo", "stack": "analytics"}
SINK = {"component_id": "buffer_table", "component_kind": "sink", "component_type": "postgres", "host": "collector-0"}
BUFFER = {**SINK, "buffer_id": "buffer_table", "stage": "0"}
# A label value that breaks an unquoted or badly quoted selector, the YAML around it, or the Helm template.
HOSTILE = "geo\"} or vector(1) # \\ \n{{ .Release.Name }} $x 'q'"
# The same without `{{`: alert labels are Prometheus templates by design (they may name `{{ $labels.stack }}`).
HOSTILE_LABEL = "geo\"}: - [x] # \\ \n $x 'q'"
CUSTOM = {
    "labels": {"release": "kube-prometheus-stack"},
    "alertLabels": {"team": "geo-admins"},
    "operatorSelector": {"job": "analytics-georchestra-analytics-metrics"},
    "collectorSelector": {"namespace": "georchestra"},
    "runbookUrl": "https://docs.example.org/analytics/operations/",
    "parseBacklogAge": {"thresholdSeconds": 7200},
    "rejectRate": {"threshold": 0.2, "window": "30m"},
    "collectorDeliveryStalled": {"enabled": False},
}
GOLDEN_CASES: dict[str, dict[str, Any]] = {"defaults": {}, "custom": CUSTOM}
HOSTILE_VALUES = {
    "alertLabels": {"team": HOSTILE_LABEL},
    "operatorSelector": {"job": HOSTILE},
    "collectorSelector": {"namespace": HOSTILE},
}


@pytest.fixture(scope="module")
def promtool() -> Path:
    try:
        return ensure_promtool().paths[PROMTOOL]
    except AssetsError as error:
        pytest.fail(f"cannot get promtool: {error}", pytrace=False)


def _values_file(folder: Path, rule_values: Mapping[str, Any]) -> list[Path]:
    path = folder / "values.yaml"
    path.write_text(yaml.safe_dump({"prometheusRule": dict(rule_values)}), encoding="utf-8")
    return [path]


def _series(name: str, labels: Mapping[str, str]) -> str:
    """A series in promtool's notation; label values JSON-quoted, which PromQL reads as Go strings."""
    return name + "{" + ", ".join(f"{key}={json.dumps(value)}" for key, value in labels.items()) + "}"


def _promtool_test(
    promtool: Path, tmp_path: Path, manifest: str, tests: Sequence[Mapping[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` of the rendered rule against `tests`. The annotations are left out of the rule file
    here: they are prose with the value in it (check rules parses their templates)."""
    groups = yaml.safe_load(alert_rules.rule_file(manifest))
    for rule in alert_rules.rules(groups):
        rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(groups, sort_keys=False, width=1 << 16))
    document = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": list(tests)}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 16))
    return subprocess.run(
        [str(promtool), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )


def _firing(name: str, at: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": dict(labels)}]}


def _quiet(name: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": []}


def _case(series: Mapping[str, str], checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": list(checks),
    }


def _cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """(what it shows, a promtool test case) for every alert, with the chart's default thresholds."""
    age, last = (
        "georchestra_analytics_parse_backlog_age_seconds",
        "georchestra_analytics_parse_last_success_timestamp_seconds",
    )
    # The last success at t=0 with 120 s of backlog: 3600 s is passed at 58 min, and the alert waits 10 min.
    yield (
        "a parser that stopped",
        _case(
            {_series(age, STACK): "120x100", _series(last, STACK): "0x100"},
            [
                _quiet("AnalyticsParseBacklogOld", "60m"),
                _firing("AnalyticsParseBacklogOld", "69m", {**STACK, "severity": "warning"}),
            ],
        ),
    )
    # A success every minute (the timestamp follows the clock), the backlog of each run 20 min old: never fires.
    yield (
        "a parser that keeps up",
        _case(
            {_series(age, STACK): "1200x100", _series(last, STACK): "0+60x100"},
            [_quiet("AnalyticsParseBacklogOld", "30m"), _quiet("AnalyticsParseBacklogOld", "99m")],
        ),
    )
    failures = "georchestra_analytics_parse_consecutive_failures"
    yield (
        "failed parse runs",
        _case(
            {_series(failures, STACK): "0 0 1 1 0 1 2 2 0"},
            [
                _quiet("AnalyticsParseRunsFailing", "3m"),
                _firing("AnalyticsParseRunsFailing", "6m", {**STACK, "severity": "warning"}),
                _quiet("AnalyticsParseRunsFailing", "8m"),
            ],
        ),
    )
    claimed, rejected = (
        "georchestra_analytics_parse_claimed_records_total",
        "georchestra_analytics_parse_rejected_records_total",
    )
    yield (
        "10 % rejected",
        _case(
            {_series(claimed, STACK): "0+1000x120", _series(rejected, STACK): "0+100x120"},
            [
                _quiet("AnalyticsRejectRateHigh", "10m"),
                _firing("AnalyticsRejectRateHigh", "30m", {**STACK, "severity": "warning"}),
            ],
        ),
    )
    yield (
        "1 % rejected, or too few records to say",
        _case(
            {
                _series(claimed, STACK): "0+1000x120",
                _series(rejected, STACK): "0+10x120",
                _series(claimed, {**STACK, "stack": "quiet"}): "0+1x120",
                _series(rejected, {**STACK, "stack": "quiet"}): "0+1x120",
            },
            [_quiet("AnalyticsRejectRateHigh", "30m"), _quiet("AnalyticsRejectRateHigh", "110m")],
        ),
    )
    errors, discarded = "vector_component_errors_total", "vector_component_discarded_events_total"
    error_labels = {**SINK, "error_type": "request_failed", "stage": "sending"}
    yield (
        "a batch the database refused",
        _case(
            {
                _series(errors, error_labels): "0x30 1x60",
                _series(discarded, {**SINK, "intentional": "false"}): "0x30 1000x60",
            },
            [
                _quiet("AnalyticsCollectorDeliveryErrors", "29m"),
                _firing("AnalyticsCollectorDeliveryErrors", "33m", {**SINK, "severity": "critical"}),
                _quiet("AnalyticsCollectorDeliveryErrors", "50m"),
            ],
        ),
    )
    yield (
        "the filter's intended discards are not delivery errors",
        _case(
            {_series(discarded, {**SINK, "component_id": "access_log_scopes", "intentional": "true"}): "0+50x60"},
            [_quiet("AnalyticsCollectorDeliveryErrors", "30m")],
        ),
    )
    received, sent = "vector_component_received_events_total", "vector_component_sent_events_total"
    # Writes stop at 20 min with 100 events taken in after: stalled once 10 min pass without a write.
    yield (
        "a database that refuses connections",
        _case(
            {_series(received, SINK): "0+10x30 300x30", _series(sent, SINK): "0+10x20 200x40"},
            [
                _quiet("AnalyticsCollectorDeliveryStalled", "25m"),
                _firing("AnalyticsCollectorDeliveryStalled", "31m", {**SINK, "severity": "critical"}),
            ],
        ),
    )
    yield (
        "a collector that never wrote (Vector has no sent counter yet)",
        _case(
            {_series(received, SINK): "0+10x30"},
            [_firing("AnalyticsCollectorDeliveryStalled", "5m", {**SINK, "severity": "critical"})],
        ),
    )
    yield (
        "a collector idle after writing all it got, or whose losses were counted as errors",
        _case(
            {
                _series(received, SINK): "0+10x10 100x50",
                _series(sent, SINK): "0+10x10 100x50",
                _series(received, {**SINK, "host": "collector-1"}): "0+10x10 100x50",
                _series(sent, {**SINK, "host": "collector-1"}): "0+5x10 50x50",
                _series(discarded, {**SINK, "host": "collector-1", "intentional": "false"}): "0+5x10 50x50",
            },
            [_quiet("AnalyticsCollectorDeliveryStalled", "40m")],
        ),
    )
    size_bytes, max_bytes = "vector_buffer_size_bytes", "vector_buffer_max_size_bytes"
    size_events, max_events = "vector_buffer_size_events", "vector_buffer_max_size_events"
    disk = {**BUFFER, "buffer_type": "disk", "host": "collector-0"}
    memory = {**BUFFER, "buffer_type": "memory", "host": "collector-1"}
    # Vector reports a memory buffer's bytes too, but its limit only in events.
    yield (
        "a disk buffer and a memory buffer 90 % full",
        _case(
            {
                _series(size_bytes, disk): "0x10 241591939x30",
                _series(max_bytes, disk): "268435488x40",
                _series(size_events, memory): "0x10 9000x30",
                _series(size_bytes, memory): "0x10 16000000x30",
                _series(max_events, memory): "10000x40",
            },
            [
                _quiet("AnalyticsCollectorBufferFilling", "13m"),
                {
                    "eval_time": "20m",
                    "alertname": "AnalyticsCollectorBufferFilling",
                    "exp_alerts": [
                        {"exp_labels": {**disk, "severity": "warning"}},
                        {"exp_labels": {**memory, "severity": "warning"}},
                    ],
                },
            ],
        ),
    )
    yield (
        "buffers with room",
        _case(
            {
                _series(size_bytes, disk): "100000000x30",
                _series(max_bytes, disk): "268435488x30",
                _series(size_events, memory): "7000x30",
                _series(size_bytes, memory): "90000000x30",
                _series(max_events, memory): "10000x30",
            },
            [_quiet("AnalyticsCollectorBufferFilling", "20m")],
        ),
    )


CASES = list(_cases())


def test_rendered_only_where_the_kind_is_served_and_when_enabled(helm: Path) -> None:
    enabled = ["prometheusRule.enabled=true"]
    assert "PrometheusRule" in alert_rules.kinds(helm, enabled, with_capability=True)
    assert "PrometheusRule" not in alert_rules.kinds(helm, enabled, with_capability=False)
    assert "PrometheusRule" not in alert_rules.kinds(helm, [], with_capability=True)


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_rule_matches_golden(helm: Path, tmp_path: Path, case: str) -> None:
    rendered = alert_rules.render(helm, values_files=_values_file(tmp_path, GOLDEN_CASES[case]))
    golden = alert_rules.RULE_GOLDEN_DIR / f"{case}.yaml"
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"no golden file: run with {UPDATE_GOLDEN_ENV}=1"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs from helm template: if the change is intended, rerun with {UPDATE_GOLDEN_ENV}=1 "
        "and review the diff"
    )


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (alert_rules.CHART.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    names = [rule["alert"] for rule in alert_rules.rules(alert_rules.golden_groups("defaults"))]
    assert len(names) == 6
    for name in names:
        assert f"\n### {name}\n" in runbook, f"docs/operations.md has no runbook section for {name}"


@pytest.mark.parametrize(
    "case",
    [*sorted(GOLDEN_CASES), "hostile"],
)
def test_promtool_check_rules_accepts_the_rule(helm: Path, promtool: Path, tmp_path: Path, case: str) -> None:
    values = HOSTILE_VALUES if case == "hostile" else GOLDEN_CASES[case]
    files = _values_file(tmp_path, values)
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(alert_rules.rule_file(alert_rules.render(helm, values_files=files)))
    result = check_rules(promtool, rule_file)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = len(list(alert_rules.rules(yaml.safe_load(rule_file.read_text()))))
    assert rules >= 5
    assert f"SUCCESS: {rules} rules found" in result.stdout, result.stdout


@pytest.mark.parametrize("what", [name for name, _ in CASES])
def test_each_alert_fires_exactly_in_its_case(helm: Path, promtool: Path, tmp_path: Path, what: str) -> None:
    case = dict(CASES)[what]
    result = _promtool_test(promtool, tmp_path, alert_rules.render(helm), [case])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hostile_selector_values_select_exactly_their_series(helm: Path, promtool: Path, tmp_path: Path) -> None:
    manifest = alert_rules.render(helm, values_files=_values_file(tmp_path, HOSTILE_VALUES))
    hostile = {**BUFFER, "buffer_type": "memory", "namespace": HOSTILE}
    plain = {**hostile, "namespace": "geo"}
    case = _case(
        {
            _series("vector_buffer_size_events", hostile): "9500x20",
            _series("vector_buffer_max_size_events", hostile): "10000x20",
            _series("vector_buffer_size_events", plain): "9500x20",
            _series("vector_buffer_max_size_events", plain): "10000x20",
        },
        [_firing("AnalyticsCollectorBufferFilling", "10m", {**hostile, "team": HOSTILE_LABEL, "severity": "warning"})],
    )
    result = _promtool_test(promtool, tmp_path, manifest, [case])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("prometheusRule.rejectRate.window=1h]) or vector(1", "window"),
        ("prometheusRule.parseBacklogAge.for=soon", "for"),
        ("prometheusRule.collectorBufferFull.for=30s5m", "for"),
        ("prometheusRule.rejectRate.threshold=1.5", "threshold"),
        ("prometheusRule.parseFailures.threshold=two", "threshold"),
        ("prometheusRule.collectorSelector.bad-name=x", "bad-name"),
        ("prometheusRule.runbookUrl=javascript:alert(1)", "runbookUrl"),
    ],
)
def test_values_that_are_not_what_they_claim_fail(helm: Path, assignment: str, complaint: str) -> None:
    with pytest.raises(HelmError, match=complaint):
        alert_rules.render(helm, [assignment])


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("prometheusRule.rejectRate.window=1h]) or vector(1", "rejectRate.window must be a Prometheus duration"),
        ("prometheusRule.collectorBufferFull.for=30s5m", "collectorBufferFull.for must be a Prometheus duration"),
        ("prometheusRule.parseFailures.threshold=2) or vector(1", "parseFailures.threshold must be a number"),
        ("prometheusRule.operatorSelector.bad-name=x", 'operatorSelector: "bad-name" is not a Prometheus label'),
    ],
)
def test_the_template_refuses_them_too_without_the_schema(helm: Path, assignment: str, complaint: str) -> None:
    """The chart may be rendered without its schema (`--skip-schema-validation`, some GitOps tools): the
    template's own checks still keep those values out of PromQL."""
    with pytest.raises(HelmError, match=re.escape(complaint)):
        alert_rules.render(helm, [assignment], (), "--skip-schema-validation")


def test_metric_names_reads_the_selected_metrics() -> None:
    expr = (
        'sum without (a, b) (increase(foo_total{x="y", z=~"bar_total"}[5m])) / on (q) group_left (r) bar'
        " unless baz offset 5m > bool 0.5"
    )
    assert alert_rules.metric_names(expr) == {"foo_total", "bar", "baz"}


def test_the_rule_selects_only_the_projects_metrics() -> None:
    names = alert_rules.all_metric_names(alert_rules.golden_groups("defaults"))
    prefixes = (alert_rules.OPERATOR_PREFIX, alert_rules.COLLECTOR_PREFIX)
    assert names and all(name.startswith(prefixes) for name in names), names
