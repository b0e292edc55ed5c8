"""The k8s and helm tiers: a real kube-apiserver + etcd (+ kube-controller-manager) for the session, and helm.

Fixtures (loaded for every test through `pytest_plugins` in tests/conftest.py):

- `kube_cluster` (session): a `KubeCluster` with
    `.kubeconfig`   Path to an admin kubeconfig (client certificate in group system:masters),
    `.api_client()` a `kubernetes.client.ApiClient` acting as that admin,
    `.server`       the API server URL, `.ca_file` the CA that signed its certificate (None if not verified),
    `.service_account_kubeconfig(namespace, name, *, expiration_seconds=3600) -> Path`: a kubeconfig holding a
                    TokenRequest token of that ServiceAccount (created if missing), to test RBAC as that identity;
                    `.api_client(kubeconfig)` turns it into a client,
    `.helm`         Path to the helm binary when it is available, else None (use `helm_binary` to get it built),
    `.controller_manager` True when controllers run (garbage collection, namespaces, Jobs); always True on an
                    existing cluster.
- `kube_namespace` (function): the name of a fresh namespace, created with its `default` ServiceAccount and
  deleted afterwards (the deletion is only issued; it completes when the namespace controller runs).
- `helm_binary` (session): Path to helm, built if needed.

Environment:
- `ANALYTICS_TEST_KUBECONFIG`: run against that existing cluster instead of starting one (nothing is built for it).
- `ANALYTICS_K8S_ASSETS`: a folder of prebuilt kube-apiserver, etcd (kube-controller-manager, helm) to use.
- `ANALYTICS_K8S_CONTROLLER_MANAGER=0`: start no kube-controller-manager (then `.controller_manager` is False).

The binaries are built (see tests/support/k8s_assets.py) when the session has collected a test that needs them,
before any test runs, so a cold build never counts against a test's time-out. The terminal summary prints how long
the build took (or took, when cached) and how long the control plane took to start.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.support import k8s_assets
from tests.support.k8s_assets import HELM, AssetsError, Binaries
from tests.support.k8s_control_plane import ControlPlane, ControlPlaneError, kubeconfig_yaml

KUBECONFIG_ENV = "ANALYTICS_TEST_KUBECONFIG"
CONTROLLER_MANAGER_ENV = "ANALYTICS_K8S_CONTROLLER_MANAGER"
TEST_NAMESPACE_LABEL = "analytics.georchestra.org/test-namespace"

_CLUSTER_FIXTURES = {"kube_cluster", "kube_namespace"}
_HELM_FIXTURES = {"helm_binary"}
# Tests of these tiers may ask for the fixtures dynamically (request.getfixturevalue), unseen in fixturenames.
_CLUSTER_TIERS = {"k8s", "helm"}
_HELM_TIERS = {"helm"}


@dataclass
class _SessionState:
    """What the session learned about its binaries, for the fixtures and the terminal summary."""

    control_plane: Binaries | None = None
    control_plane_error: str | None = None
    helm: Binaries | None = None
    helm_error: str | None = None
    summary: list[str] = field(default_factory=list)


_STATE = _SessionState()


def _controller_manager_wanted() -> bool:
    return os.environ.get(CONTROLLER_MANAGER_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def _ensure_control_plane() -> Binaries:
    if _STATE.control_plane is None and _STATE.control_plane_error is None:
        try:
            _STATE.control_plane = k8s_assets.ensure_control_plane(with_controller_manager=_controller_manager_wanted())
            _STATE.summary.append(_STATE.control_plane.describe())
        except AssetsError as error:
            _STATE.control_plane_error = str(error)
            _STATE.summary.append(f"control plane binaries: FAILED: {error}")
    if _STATE.control_plane is None:
        pytest.fail(f"cannot get kube-apiserver/etcd: {_STATE.control_plane_error}", pytrace=False)
    return _STATE.control_plane


def _ensure_helm() -> Path:
    if _STATE.helm is None and _STATE.helm_error is None:
        try:
            _STATE.helm = k8s_assets.ensure_helm()
            _STATE.summary.append(_STATE.helm.describe())
        except AssetsError as error:
            _STATE.helm_error = str(error)
            _STATE.summary.append(f"helm: FAILED: {error}")
    if _STATE.helm is None:
        pytest.fail(f"cannot get helm: {_STATE.helm_error}", pytrace=False)
    return _STATE.helm.paths[HELM]


def _needs(items: list[pytest.Item], fixtures: set[str], tiers: set[str]) -> bool:
    for item in items:
        if fixtures & set(getattr(item, "fixturenames", ())):
            return True
        if tiers & {mark.name for mark in item.iter_markers()}:
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Builds what the collected tests need now, outside every test's time-out (a cold build takes many minutes)."""
    if session.config.option.collectonly:
        return
    needs_cluster = _needs(session.items, _CLUSTER_FIXTURES, _CLUSTER_TIERS) and not os.environ.get(KUBECONFIG_ENV)
    needs_helm = _needs(session.items, _HELM_FIXTURES, _HELM_TIERS)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for needed, what, ensure in (
        (needs_cluster, "kube-apiserver, etcd", _ensure_control_plane),
        (needs_helm, "helm", _ensure_helm),
    ):
        if not needed:
            continue
        if reporter is not None:
            reporter.write_line(
                f"k8s tiers: getting {what} (a cold build from the Go module proxy takes many minutes)..."
            )
        with contextlib.suppress(pytest.fail.Exception):  # recorded: each test that needs it fails with the reason
            ensure()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _STATE.summary:
        terminalreporter.section("k8s tiers: binaries and control plane")
        for line in _STATE.summary:
            terminalreporter.write_line(line)


@dataclass
class KubeCluster:
    """An API server the tests can talk to: started for the session, or an existing one (KUBECONFIG_ENV)."""

    kubeconfig: Path
    server: str
    ca_file: Path | None
    helm: Path | None
    controller_manager: bool
    workdir: Path
    _token_kubeconfigs: int = 0

    def api_client(self, kubeconfig: Path | None = None) -> client.ApiClient:
        """A client acting as the admin, or as whoever `kubeconfig` (e.g. a service_account_kubeconfig) names."""
        api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig or self.kubeconfig), persist_config=False
        )
        return api

    def service_account_kubeconfig(self, namespace: str, name: str, *, expiration_seconds: int = 3600) -> Path:
        """A kubeconfig acting as ServiceAccount namespace/name (created if missing), through a TokenRequest token."""
        with self.api_client() as admin:
            core = client.CoreV1Api(admin)
            try:
                core.create_namespaced_service_account(
                    namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
                )
            except ApiException as error:
                if error.status != 409:
                    raise
            request = client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
            )
            status = core.create_namespaced_service_account_token(name, namespace, request).status
            if status is None or not status.token:
                raise RuntimeError(f"the TokenRequest for {namespace}/{name} returned no token")
            token: str = status.token
        self._token_kubeconfigs += 1
        path = self.workdir / f"sa-{namespace}-{name}-{self._token_kubeconfigs}.kubeconfig"
        user = f"system:serviceaccount:{namespace}:{name}"
        ca = str(self.ca_file) if self.ca_file else None
        path.write_text(kubeconfig_yaml(self.server, ca, user=user, credentials={"token": token}), encoding="utf-8")
        path.chmod(0o600)
        return path


def _existing_cluster(kubeconfig: Path, workdir: Path, helm: Path | None) -> KubeCluster:
    """Reads the server and CA of the current context of an existing cluster's kubeconfig."""
    document = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    contexts = {entry["name"]: entry["context"] for entry in document.get("contexts", [])}
    clusters = {entry["name"]: entry["cluster"] for entry in document.get("clusters", [])}
    cluster = clusters[contexts[document["current-context"]]["cluster"]]
    ca_file: Path | None = None
    if "certificate-authority-data" in cluster:
        ca_file = workdir / "ca.crt"
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    elif "certificate-authority" in cluster:
        ca_file = (kubeconfig.parent / cluster["certificate-authority"]).resolve()
    return KubeCluster(
        kubeconfig=kubeconfig,
        server=cluster["server"],
        ca_file=ca_file,
        helm=helm,
        controller_manager=True,
        workdir=workdir,
    )


def _helm_if_ready() -> Path | None:
    return _STATE.helm.paths[HELM] if _STATE.helm is not None else None


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    existing = os.environ.get(KUBECONFIG_ENV)
    if existing:
        if not Path(existing).is_file():
            pytest.fail(f"{KUBECONFIG_ENV}={existing}: no such file", pytrace=False)
        workdir = Path(tempfile.mkdtemp(prefix="georchestra-analytics-k8s-"))
        cluster = _existing_cluster(Path(existing), workdir, _helm_if_ready())
        _STATE.summary.append(f"existing cluster from {KUBECONFIG_ENV}: {cluster.server}")
        try:
            yield cluster
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    binaries = _ensure_control_plane()
    try:
        plane = ControlPlane.start(binaries, with_controller_manager=k8s_assets.CONTROLLER_MANAGER in binaries.paths)
    except ControlPlaneError as error:
        pytest.fail(f"the test control plane did not start: {error}", pytrace=False)
    for line in plane.stale_cleanup:
        _STATE.summary.append(f"cleaned up after an earlier run: {line}")
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in plane.start_seconds.items() if step != "total")
    _STATE.summary.append(f"control plane warm start: {plane.start_seconds['total']:.1f} s ({steps})")
    try:
        yield KubeCluster(
            kubeconfig=plane.kubeconfig,
            server=plane.server,
            ca_file=plane.pki.ca_cert,
            helm=_helm_if_ready(),
            controller_manager=plane.with_controller_manager,
            workdir=plane.workdir,
        )
    finally:
        plane.stop()


@pytest.fixture
def kube_namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    with kube_cluster.api_client() as admin:
        core = client.CoreV1Api(admin)
        core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={TEST_NAMESPACE_LABEL: "true"}))
        )
        # What the service-account controller does in a real cluster; pods cannot be admitted without it.
        try:
            core.create_namespaced_service_account(
                name, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="default"))
            )
        except ApiException as error:
            if error.status != 409:  # the controller-manager was quicker
                raise
    try:
        yield name
    finally:
        with kube_cluster.api_client() as admin:
            try:
                client.CoreV1Api(admin).delete_namespace(name)
            except ApiException as error:
                if error.status != 404:
                    raise


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    return _ensure_helm()
