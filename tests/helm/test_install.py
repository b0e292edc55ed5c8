"""`helm install`, `helm upgrade` and `helm uninstall` against the test API server, in both RBAC modes.

What is shown: the release's ServiceAccount may do what docs/operator-rbac.md lists and nothing else that
matters (the API server's own SubjectAccessReview answers), nothing outside the watched namespaces; kopf, run
under that ServiceAccount's credentials, reconciles a stack the release created (kopf_rbac_probe.py makes every
kind of call the contract grants); an upgrade changes what the values changed; an uninstall leaves the CRD and
the stacks.

The test cluster is an API server and etcd, no kubelet: the operator's Deployment is checked as an object, and
the operator process runs here with the credentials its pod would have.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.helm_chart import CHART, crd_document, documented_grants, run_helm
from tests.support.helm_cluster import (
    allowed,
    api_client,
    delete_namespaces,
    ensure_namespaces,
    get_object,
    install_crd,
    list_objects,
    service_account_user,
)

PROBE = Path(__file__).with_name("kopf_rbac_probe.py")
STACK_API = "analytics.georchestra.org/v1alpha1"
CRD_NAME = "analyticsstacks.analytics.georchestra.org"
# Calls the operator must never be able to make, in any mode: escalation, identities, other workloads' shells.
NEVER: list[tuple[str, str, str]] = [
    ("create", "rbac.authorization.k8s.io", "rolebindings"),
    ("create", "rbac.authorization.k8s.io", "roles"),
    ("create", "", "serviceaccounts"),
    ("create", "", "serviceaccounts/token"),
    ("create", "", "pods/exec"),
    ("get", "", "pods/log"),
    ("delete", "", "persistentvolumeclaims"),
    ("delete", "analytics.georchestra.org", "analyticsstacks"),
    ("create", "coordination.k8s.io", "leases"),
    ("create", "", "pods"),
]


@dataclass
class Release:
    """One release of the chart in the test cluster, and the namespaces around it."""

    name: str
    namespace: str
    kubeconfig: Path
    helm: Path

    def helm_run(self, *arguments: str) -> str:
        return run_helm(self.helm, *arguments, "--namespace", self.namespace, kubeconfig=self.kubeconfig)

    @property
    def service_account(self) -> str:
        return f"{self.name}-georchestra-analytics"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _values_file(directory: Path, values: dict[str, Any]) -> Path:
    path = directory / f"values-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def admin(cluster: Any) -> Any:
    client = api_client(Path(cluster.kubeconfig))
    install_crd(client, crd_document())
    return client


@pytest.fixture
def namespaces(admin: Any) -> Iterator[Any]:
    """Creates fresh namespaces on demand; deletes them after the test."""
    created: list[str] = []

    def create(*prefixes: str) -> list[str]:
        names = [_unique(prefix) for prefix in prefixes]
        created.extend(ensure_namespaces(admin, names))
        return names

    yield create
    delete_namespaces(admin, created)


@pytest.fixture
def release(cluster: Any, helm: Path, namespaces: Any) -> Iterator[Release]:
    name = _unique("rel")
    (namespace,) = namespaces("operator")
    yield Release(name, namespace, Path(cluster.kubeconfig), helm)
    # Leave nothing cluster-scoped behind if a test failed half-way.
    subprocess.run(
        [str(helm), "uninstall", name, "--namespace", namespace, "--ignore-not-found"],
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
        capture_output=True,
        check=False,
    )


def _stack_values(namespace: str, schedule: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "name": "analytics",
        "namespace": namespace,
        "spec": {"database": {"managed": {}}, "parser": {"schedule": schedule}},
    }


def _operator_container(admin: Any, release: Release) -> dict[str, Any]:
    deployment = get_object(admin, "apps/v1", "Deployment", release.service_account, release.namespace)
    assert deployment is not None
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


class KopfProcess:
    """`kopf run` of the probe under a kubeconfig; its log is kept for the assertions."""

    def __init__(self, kubeconfig: Path, namespaces: list[str], log: Path) -> None:
        arguments = [sys.executable, "-m", "kopf", "run", "--standalone", "--verbose"]
        for namespace in namespaces:
            arguments += ["--namespace", namespace]
        self.log = log
        self._log_file = log.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [*arguments, str(PROBE)],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
        return self.log.read_text(encoding="utf-8")


def _wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_namespaced_release_install_reconcile_upgrade_uninstall(
    release: Release, admin: Any, cluster: Any, namespaces: Any, tmp_path: Path
) -> None:
    watched, added, elsewhere = namespaces("watched", "added", "elsewhere")
    values = {"watchNamespaces": [watched], "stack": _stack_values(watched, "*/5 * * * *")}

    output = release.helm_run("install", release.name, str(CHART), "--values", str(_values_file(tmp_path, values)))
    assert "STATUS: deployed" in output
    assert "watching only" in output  # NOTES.txt

    # The objects: a Role in the watched namespace only, nothing cluster-wide, the stack kept on uninstall.
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "Role", release.service_account, watched)
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "RoleBinding", release.service_account, watched)
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "ClusterRole", release.service_account) is None
    assert _operator_container(admin, release)["args"][-2:] == ["--namespace", watched]
    stack = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert stack is not None
    assert stack["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    # The API server's answers for the release's ServiceAccount.
    user = service_account_user(release.namespace, release.service_account)
    for (group, resource), verbs in documented_grants("namespaced").items():
        for verb in verbs:
            assert allowed(admin, user, verb, resource, group=group, namespace=watched), (verb, group, resource)
            assert not allowed(admin, user, verb, resource, group=group, namespace=elsewhere), (verb, resource)
    for verb, group, resource in NEVER:
        assert not allowed(admin, user, verb, resource, group=group, namespace=watched), (verb, group, resource)
    assert not allowed(admin, user, "get", "secrets", namespace=release.namespace)
    assert not allowed(admin, user, "list", "secrets")  # all namespaces
    assert not allowed(admin, user, "list", "namespaces")
    assert not allowed(admin, user, "list", "customresourcedefinitions", group="apiextensions.k8s.io")

    # kopf under the release's ServiceAccount reconciles the stack the release created.
    kubeconfig = Path(cluster.service_account_kubeconfig(release.namespace, release.service_account))
    kopf = KopfProcess(kubeconfig, [watched], tmp_path / "kopf.log")
    try:
        reconciled = _wait_for(
            lambda: (
                (found := get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched))
                and found.get("status", {}).get("phase") == "Ready"
                and found
            ),
            timeout=90,
            what="the probe operator to reconcile the stack",
        )
        # kopf posts Events from a queue, after the handler: wait for the one the probe's log line makes.
        _wait_for(
            lambda: any(
                event["involvedObject"]["name"] == "analytics" and "every child kind" in (event.get("message") or "")
                for event in list_objects(admin, "v1", "Event", watched)
            ),
            timeout=30,
            what="kopf's Event on the stack",
        )
    finally:
        log = kopf.stop()
    assert reconciled["status"]["observedGeneration"] == reconciled["metadata"]["generation"], log
    assert "Forbidden" not in log and "Not enough permissions" not in log, log
    children = [
        item
        for api_version, kind in [("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "StatefulSet")]
        for item in list_objects(admin, api_version, kind, watched)
        if any(owner["uid"] == reconciled["metadata"]["uid"] for owner in item["metadata"].get("ownerReferences", []))
    ]
    assert {child["kind"] for child in children} == {"ConfigMap", "Secret", "StatefulSet"}

    # Upgrade: a second watched namespace, JSON logs, a new parse schedule.
    values = {"watchNamespaces": [watched, added], "stack": _stack_values(watched, "*/15 * * * *")}
    release.helm_run(
        "upgrade",
        release.name,
        str(CHART),
        "--values",
        str(_values_file(tmp_path, values)),
        "--set",
        "operator.logFormat=json",
    )
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "Role", release.service_account, added)
    assert allowed(admin, user, "create", "configmaps", namespace=added)
    container = _operator_container(admin, release)
    assert container["args"][-4:] == ["--namespace", watched, "--namespace", added]
    assert {"name": "ANALYTICS_LOG_FORMAT", "value": "json"} in container["env"]
    upgraded = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert upgraded is not None
    assert upgraded["spec"]["parser"]["schedule"] == "*/15 * * * *"
    assert upgraded["status"]["phase"] == "Ready"  # the upgrade did not wipe the operator's status

    # Uninstall: the operator and its rights go; the CRD and the stack stay.
    release.helm_run("uninstall", release.name)
    assert get_object(admin, "apps/v1", "Deployment", release.service_account, release.namespace) is None
    assert get_object(admin, "v1", "ServiceAccount", release.service_account, release.namespace) is None
    for namespace in (watched, added):
        assert get_object(admin, "rbac.authorization.k8s.io/v1", "Role", release.service_account, namespace) is None
    assert not allowed(admin, user, "create", "configmaps", namespace=watched)
    assert get_object(admin, "apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME) is not None
    kept = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert kept is not None and kept["metadata"]["uid"] == reconciled["metadata"]["uid"]


def test_cluster_wide_release_grants_the_same_rules_everywhere_and_nothing_more(
    release: Release, admin: Any, namespaces: Any
) -> None:
    (somewhere,) = namespaces("anywhere")
    release.helm_run("install", release.name, str(CHART))
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "ClusterRole", release.service_account)
    assert _operator_container(admin, release)["args"][-1] == "--all-namespaces"

    user = service_account_user(release.namespace, release.service_account)
    for (group, resource), verbs in documented_grants("cluster-wide").items():
        for verb in verbs:
            namespace = None if resource == "customresourcedefinitions" else somewhere
            assert allowed(admin, user, verb, resource, group=group, namespace=namespace), (verb, group, resource)
    for verb, group, resource in NEVER:
        assert not allowed(admin, user, verb, resource, group=group, namespace=somewhere), (verb, group, resource)
    assert not allowed(admin, user, "list", "namespaces")
    assert not allowed(admin, user, "create", "customresourcedefinitions", group="apiextensions.k8s.io")
    assert not allowed(admin, user, "create", "clusterroles", group="rbac.authorization.k8s.io")

    release.helm_run("uninstall", release.name)
    assert get_object(admin, "rbac.authorization.k8s.io/v1", "ClusterRole", release.service_account) is None
    assert not allowed(admin, user, "get", "configmaps", namespace=somewhere)
    assert get_object(admin, "apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME) is not None
