"""The operator's RBAC, as rendered in the golden files, is exactly the contract of docs/operator-rbac.md: no
wildcard, the same rules in both modes, nothing cluster-wide in namespaced mode.

The golden files are `helm template` output (test_template_golden.py keeps them equal to it), so these checks
need no helm binary.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.support.helm_chart import (
    CHART,
    RELEASE_NAMESPACE,
    documented_grants,
    find,
    golden_documents,
    rbac_rules,
    rendered_grants,
    scenarios,
)

SCENARIO_NAMES = [scenario.name for scenario in scenarios()]


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_no_wildcard_in_any_rule(name: str) -> None:
    for role, rule in rbac_rules(golden_documents(name)):
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
            assert not any("*" in entry for entry in rule.get(field, [])), (role["metadata"]["name"], rule)


def test_no_wildcard_in_the_templates() -> None:
    # Catches a wildcard behind a value or a branch no scenario renders.
    for template in (CHART / "templates").iterdir():
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"""["']\*["']|-\s+\*\s*$""", text, flags=re.MULTILINE), template.name


def test_cluster_mode_grants_exactly_the_documented_rules() -> None:
    objects = golden_documents("defaults")
    (cluster_role,) = find(objects, "ClusterRole")
    assert rendered_grants(cluster_role["rules"]) == documented_grants("cluster-wide")
    assert find(objects, "Role") == []
    (binding,) = find(objects, "ClusterRoleBinding")
    (service_account,) = find(objects, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": cluster_role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": service_account["metadata"]["name"], "namespace": RELEASE_NAMESPACE}
    ]


@pytest.mark.parametrize("name", ["namespaced", "external-database"])
def test_namespaced_mode_has_a_role_per_watched_namespace_and_nothing_cluster_wide(name: str) -> None:
    objects = golden_documents(name)
    watched = next(scenario for scenario in scenarios() if scenario.name == name).values()["watchNamespaces"]
    assert find(objects, "ClusterRole") == [] and find(objects, "ClusterRoleBinding") == []
    roles = find(objects, "Role")
    assert sorted(role["metadata"]["namespace"] for role in roles) == sorted(watched)
    for role in roles:
        assert rendered_grants(role["rules"]) == documented_grants("namespaced")
    bindings = find(objects, "RoleBinding")
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == sorted(watched)
    (service_account,) = find(objects, "ServiceAccount")
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": service_account["metadata"]["name"], "namespace": RELEASE_NAMESPACE}
        ]


@pytest.mark.parametrize("name", ["namespaced", "external-database"])
def test_namespaced_mode_reaches_secrets_only_in_the_watched_namespaces(name: str) -> None:
    watched = next(scenario for scenario in scenarios() if scenario.name == name).values()["watchNamespaces"]
    granted_in = set()
    for role, rule in rbac_rules(golden_documents(name)):
        if "secrets" in rule["resources"]:
            assert role["kind"] == "Role"
            granted_in.add(role["metadata"]["namespace"])
    assert granted_in == set(watched)


def _operator_container(name: str) -> dict[str, Any]:
    (deployment,) = find(golden_documents(name), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container_dict: dict[str, Any] = container
    return container_dict


def test_operator_args_per_mode() -> None:
    assert _operator_container("defaults")["args"] == [
        "operator",
        "--standalone",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--all-namespaces",
    ]
    assert _operator_container("namespaced")["args"] == [
        "operator",
        "--standalone",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--namespace",
        "geo-team-a",
        "--namespace",
        "geo-team-b",
    ]


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_operator_runs_alone_and_locked_down(name: str) -> None:
    (deployment,) = find(golden_documents(name), "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {port["name"]: port["containerPort"] for port in container["ports"]} == {"health": 8080, "metrics": 9090}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
