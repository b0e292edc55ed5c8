"""The rendered Vector configuration against the pod the operator runs it in: every environment variable the
configuration names is set in every container that loads it, and the paths and ports agree."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.support.vector import COLLECTOR_SCENARIOS, stack_document

from georchestra_analytics.kube.collector import collector_workload
from georchestra_analytics.render.vector import (
    ACCESS_LOG_FILES_MOUNT,
    API_PORT,
    DATA_DIR,
    METRICS_PORT,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    render_vector_config,
)
from georchestra_analytics.stack import AnalyticsStack, parse_stack

# Vector's pattern for a variable reference; `$$` is an escaped `$`, not a reference.
_REFERENCE = re.compile(r"\$\$|\$([\w.]+)|\$\{([\w.]+)(?:(?::?-|:?\?)[^}]*)?\}", re.ASCII)


def referenced_variables(config_text: str) -> set[str]:
    return {match.group(1) or match.group(2) for match in _REFERENCE.finditer(config_text) if match.group(0) != "$$"}


def pod_of(stack: AnalyticsStack) -> tuple[str, dict[str, Any]]:
    config = render_vector_config(stack)
    workload = collector_workload(stack, config, {})
    return config, workload["spec"]["template"]["spec"]


def scenario(name: str) -> AnalyticsStack:
    collector, schema = COLLECTOR_SCENARIOS[name]
    return parse_stack(stack_document(collector, schema))


def test_the_collector_container_has_every_variable_the_config_names() -> None:
    config, pod = pod_of(scenario("defaults"))
    needed = referenced_variables(config)
    assert needed, "the database URL must come from the environment"
    vector = next(container for container in pod["containers"] if container["name"] == "vector")
    assert needed <= {variable["name"] for variable in vector.get("env", [])}


def test_the_validate_container_has_every_variable_the_config_names() -> None:
    config, pod = pod_of(scenario("defaults"))
    needed = referenced_variables(config)
    for container in pod.get("initContainers", []):
        assert needed <= {variable["name"] for variable in container.get("env", [])}, container["name"]


@pytest.mark.parametrize("name", sorted(COLLECTOR_SCENARIOS))
def test_mounts_and_ports_agree_with_the_config(name: str) -> None:
    stack = scenario(name)
    _, pod = pod_of(stack)
    vector = next(container for container in pod["containers"] if container["name"] == "vector")
    mounts = {mount["mountPath"] for mount in vector["volumeMounts"]}
    assert DATA_DIR in mounts
    if stack.spec.collector.files is not None:
        assert ACCESS_LOG_FILES_MOUNT in mounts
    ports = {port["containerPort"] for port in vector["ports"]}
    assert {OTLP_GRPC_PORT, OTLP_HTTP_PORT, API_PORT, METRICS_PORT} <= ports
    if stack.spec.collector.syslog is not None:
        assert stack.spec.collector.syslog.port in ports
