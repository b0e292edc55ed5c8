"""The operator's RBAC, as rendered in the golden files, is exactly the contract of docs/operator-rbac.md: no
wildcard, the same rules in both modes, nothing cluster-wide in namespaced mode.

The golden files are `helm template` output (test_template_golden.py keeps them equal to it), so these checks
need no helm binary. The table itself is derived from the calls (end of this file): what the handlers' reconcile
requests over a recording client, plus what kopf needs for the handlers it is given.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest
from kubernetes.client import ApiClient, Configuration
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

from georchestra_analytics.controller.context import ControllerContext
from georchestra_analytics.controller.handlers import build_registry, run_reconcile
from georchestra_analytics.controller.reconcile import report_error
from georchestra_analytics.kube.apply import KINDS, KubeApi, KubeError, Object
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.stack import parse_stack

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


# --- The rules derived from what the operator calls -------------------------------------------------------------
#
# The reconcile runs over a KubeApi whose transport records each request (verb and resource) and answers as an API
# server would; kopf's own calls are derived from the handlers it is given. The union must be the documented
# table, no more (a verb nobody uses) and no less (a call the API server would refuse).

UID = "0f6c1e0a-1111-2222-3333-444455556666"
HTTP_VERBS = {"POST": "create", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}


def _resource_of(path: str) -> tuple[str, str, bool]:
    """(API group, resource or resource/subresource, whether a name is given) of a namespaced request path."""
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    assert rest[0] == "namespaces", path
    resource, named = rest[2], len(rest) > 3
    if len(rest) > 4:
        resource += "/" + rest[4]
    return group, resource, named


class _RecordingApi(KubeApi):
    """Records every request. GET of one object answers 404, or, with `existing`, an object for the kinds
    listed; a LIST of the stack's children answers one child the stack no longer wants (so pruning deletes it);
    writes echo their body."""

    def __init__(self, stack: dict[str, Any], existing: frozenset[str] = frozenset()) -> None:
        super().__init__(ApiClient(Configuration()))
        self.stack = stack
        self.existing = existing
        self.calls: set[tuple[str, str, str]] = set()

    def _call(self, action: str, method: str, path: str, **kwargs: Any) -> Object:
        group, resource, named = _resource_of(path)
        verb = ("get" if named else "list") if method == "GET" else HTTP_VERBS[method]
        self.calls.add((group, resource, verb))
        if method == "GET" and named:
            if resource == "analyticsstacks":
                return self.stack
            if resource in self.existing:
                kind = next(kind for kind, where in KINDS.items() if where.plural == resource)
                return {"kind": kind, "metadata": {"name": path.rsplit("/", 1)[1], "namespace": "geor", "uid": "x"}}
            raise KubeError(action, 404, "NotFound", "not found")
        if method == "GET":
            stale = {"name": "analytics-stale", "ownerReferences": [{"uid": UID, "controller": True}]}
            return {"items": [{"metadata": stale}] if resource not in ("pods",) else []}
        body: Object = kwargs.get("body") or {}
        return body


def _stack(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    meta = {"name": "analytics", "namespace": "geor", "uid": UID, "generation": 1, **metadata}
    return {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": meta,
        "spec": spec,
    }


SUPERSET = {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}}
STACKS = [
    _stack({"database": {"managed": {}}}),
    _stack(
        {
            "database": {"external": {"host": "db.example.org", "credentialsSecret": {"name": "db"}}},
            "collector": {
                "buffer": {"type": "disk", "maxSize": 1 << 30},
                "files": {"claimName": "logs", "paths": ["nginx/*.log"]},
            },
            "parser": {"privacy": {"pseudonymizationKey": {"name": "pseudo", "key": "key"}}},
            "superset": SUPERSET,
        }
    ),
    _stack({"database": {"managed": {}}, "suspend": True}),
    _stack({"database": {}}),  # invalid: only its status is written
]


def _operator_calls() -> set[tuple[str, str, str]]:
    """Every request of the handlers' reconcile (and of its error report) over the stacks above."""
    calls: set[tuple[str, str, str]] = set()

    def post_event(*_: Any, **__: Any) -> None:  # kopf.event queues a POST to the core Events API
        calls.add(("", "events", "create"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kopf, "event", post_event)  # it needs a running operator's context to queue anything
        for existing in (frozenset(), frozenset({"jobs", "cronjobs"})):
            for body in STACKS:
                context = ControllerContext(Configuration())
                context.api = api = _RecordingApi(body, existing)
                run_reconcile(context, ("geor", "analytics"), "resync", logging.getLogger(__name__))
                report_error(api, body, RuntimeError("a failed reconcile"), datetime.now(UTC))
                calls |= api.calls
    return calls


def _kopf_calls(namespaced: bool) -> set[tuple[str, str, str]]:
    """What kopf itself asks of the API server for the operator's handlers (kopf's registries are read through
    their selectors; nothing is run)."""
    registry = build_registry(ControllerContext(Configuration()))
    calls: set[tuple[str, str, str]] = set()
    watching = [*registry._watching.get_all_selectors(), *registry._indexing.get_all_selectors()]
    changing = list(registry._changing.get_all_selectors())
    for selector in [*watching, *changing]:
        resource = selector.plural or selector.any_name
        calls |= {(selector.group or "", resource, "list"), (selector.group or "", resource, "watch")}
    for selector in changing:
        # kopf keeps its bookkeeping (last handled spec, progress) in annotations of the object: a PATCH.
        calls.add((selector.group or "", selector.plural or selector.any_name, "patch"))
    if not namespaced:
        # kopf's resource scanning watches CRDs (its discovery of /api and /apis needs no grant).
        calls |= {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")}
    return calls


def _ownership_calls() -> set[tuple[str, str, str]]:
    """A child whose ownerReference says blockOwnerDeletion needs `update` on the owner's finalizers where the
    OwnerReferencesPermissionEnforcement admission plugin runs."""
    children = build_children(parse_stack(STACKS[0]), rendered_inputs(parse_stack(STACKS[0])))
    blocking = any(ref.get("blockOwnerDeletion") for c in children for ref in c["metadata"].get("ownerReferences", []))
    return {("analytics.georchestra.org", "analyticsstacks/finalizers", "update")} if blocking else set()


def _as_grants(calls: set[tuple[str, str, str]]) -> dict[tuple[str, str], frozenset[str]]:
    grants: dict[tuple[str, str], set[str]] = defaultdict(set)
    for group, resource, verb in calls:
        grants[(group, resource)].add(verb)
    return {key: frozenset(verbs) for key, verbs in grants.items()}


def test_server_side_apply_is_the_only_write_besides_deletes_and_events() -> None:
    verbs = {verb for _, resource, verb in _operator_calls() if resource != "events"}
    assert verbs == {"get", "list", "patch", "delete"}, verbs


@pytest.mark.parametrize("mode", ["namespaced", "cluster-wide"])
def test_the_documented_rules_are_exactly_what_the_operator_and_kopf_call(mode: str) -> None:
    calls = _operator_calls() | _kopf_calls(namespaced=mode == "namespaced") | _ownership_calls()
    # Server-side apply creates an object that does not exist yet: the API server then checks `create` as well.
    calls |= {(group, resource, "create") for group, resource, verb in _operator_calls() if verb == "patch"}
    calls -= {(group, resource, "create") for group, resource, _ in calls if resource.endswith("/status")}
    assert _as_grants(calls) == documented_grants(mode)
