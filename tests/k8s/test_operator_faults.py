"""The operator under faults, on a real API server of this module's own (tests/support/audited_control_plane.py):
the API server stopped and started again in the middle of a reconcile; the operator killed (SIGKILL) in the middle
of a rollout, a child deleted by hand while it is down, then the operator started again. Each time the stack
converges, no Job is created twice, and nothing the status held is lost; the restarted operator still rolls the
collector when its generated Secret is rotated.

Where the tests must act in the middle of a reconcile, they hold the operator's next apply of one child (a gate
around KubeApi.apply, in the process that runs the operator) until the fault is in place: the fault itself is
real (the API server process is stopped, the operator process killed). Calls are read from the API server's
audit log. As in test_operator.py there is no kubelet: the tests report workloads ready and Jobs finished as the
kubelet and the controllers would (tests/support/operator.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from tests.support.audited_control_plane import (
    AuditedControlPlane,
    OperatorProcess,
    audited_control_plane,
    now,
    service_account_user,
)
from tests.support.figures import figure_reporter
from tests.support.operator import (
    admin_with_crd,
    condition,
    create_namespace,
    delete_namespace,
    finish_job,
    grant_chart_rbac,
    mark_workload_ready,
    parse_run,
    running_operator,
    unique,
    wait_for,
)

from georchestra_analytics.kube.apply import KubeApi, KubeError, Object
from georchestra_analytics.kube.database_access import roles_secret_name
from georchestra_analytics.kube.pods import SECRETS_CHECKSUM_ANNOTATION
from georchestra_analytics.stack import KIND, parse_stack

REPO = Path(__file__).resolve().parents[2]
FIGURES = "operator under faults (tests/k8s/test_operator_faults.py)"
NAME = "analytics"
RESYNC = 2.0
MIGRATE = {"app.kubernetes.io/instance": NAME, "app.kubernetes.io/component": "migrate"}
PARSE_COUNTS = {"claimed": 10, "written": 9, "rejected": 1, "oldest_buffered_age_seconds": 3}
KEPT_STATUS = ("lastParse", "schemaVersion", "migrationJob", "endpoints")


@pytest.fixture(scope="module")
def plane() -> Iterator[AuditedControlPlane]:
    with audited_control_plane() as started:
        yield started


@pytest.fixture(scope="module")
def admin(plane: AuditedControlPlane) -> KubeApi:
    return admin_with_crd(plane.kubeconfig)


@dataclass
class Watched:
    namespace: str
    operator_namespace: str
    kubeconfig: Path
    user: str


@pytest.fixture
def watched(plane: AuditedControlPlane, admin: KubeApi, helm_binary: Path) -> Iterator[Watched]:
    if not plane.with_controller_manager:
        pytest.skip("these faults are played with the Job and garbage-collection controllers running")
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
    try:
        yield Watched(namespace, operator_namespace, kubeconfig, service_account_user(operator_namespace, account))
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def _document(namespace: str, **spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text(encoding="utf-8"))
    document["metadata"]["namespace"] = namespace
    document["spec"].update(spec)
    return document


def _stack(admin: KubeApi, namespace: str) -> Object:
    found = admin.get(KIND, namespace, NAME)
    assert found is not None
    return found


def _migrate_jobs(admin: KubeApi, namespace: str) -> list[Object]:
    return admin.list("Job", namespace, MIGRATE)


def _ready(admin: KubeApi, namespace: str) -> bool:
    stack = admin.get(KIND, namespace, NAME) or {}
    status = stack.get("status") or {}
    return (condition(stack, "Ready") or {}).get("status") == "True" and status.get("observedGeneration") == (
        stack.get("metadata") or {}
    ).get("generation")


def _drive_to_ready(admin: KubeApi, namespace: str, what: str, log: Any = None) -> None:
    """What the kubelet and the controllers would report: the database and collector ready, the db-migrate Job
    (the newest, when a rollout created another) succeeded with its schema version."""
    for kind, name in (("StatefulSet", f"{NAME}-db"), ("Deployment", f"{NAME}-collector")):
        wait_for(lambda kind=kind, name=name: admin.get(kind, namespace, name), f"{kind} {name}", 60, log)
        mark_workload_ready(admin, kind, namespace, name, controllers=True)

    def migrate_job() -> str | None:
        wanted = (_stack(admin, namespace).get("status") or {}).get("migrationJob")
        return wanted if wanted and admin.get("Job", namespace, wanted) else None

    job = wait_for(migrate_job, "the db-migrate Job the status names", 60, log)
    if not any(
        c.get("type") == "Complete"
        for c in ((admin.get("Job", namespace, job) or {}).get("status") or {}).get("conditions") or []
    ):
        finish_job(
            admin, namespace, job, succeeded=True, message=json.dumps({"schema_version": "0005"}), controllers=True
        )
    wait_for(lambda: _ready(admin, namespace), what, 60, log)


def _parse_once(admin: KubeApi, namespace: str) -> None:
    cronjob = admin.get("CronJob", namespace, f"{NAME}-parse")
    assert cronjob is not None
    parse_run(admin, cronjob, json.dumps(PARSE_COUNTS), succeeded=True, controllers=True)
    wait_for(lambda: (_stack(admin, namespace).get("status") or {}).get("lastParse"), "status.lastParse", 30)


class Gate:
    """Holds the operator's next apply of one kind of child until released; says when it is held and what the
    held call then got (its answer, or the error of a server that is gone)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.held = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.outcome: BaseException | None = None
        self._armed = True
        self._original = KubeApi.apply

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        gate, original = self, self._original

        def apply(api: KubeApi, obj: Any) -> Object:
            if not (
                gate._armed
                and obj.get("kind") == gate.kind
                and threading.current_thread() is not threading.main_thread()
            ):
                return original(api, obj)
            gate._armed = False
            gate.held.set()
            gate.release.wait(120)
            try:
                return original(api, obj)
            except BaseException as error:
                gate.outcome = error
                raise
            finally:
                gate.done.set()

        monkeypatch.setattr(KubeApi, "apply", apply)


def _condition_times(stack: Object) -> dict[str, str]:
    return {item["type"]: item["lastTransitionTime"] for item in (stack.get("status") or {}).get("conditions") or []}


def test_the_api_server_restarted_during_a_reconcile(
    plane: AuditedControlPlane,
    admin: KubeApi,
    watched: Watched,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    namespace = watched.namespace
    report = figure_reporter(request.config, FIGURES)
    with running_operator(watched.kubeconfig, [namespace], resync_seconds=RESYNC) as log:
        admin.apply(_document(namespace))
        _drive_to_ready(admin, namespace, "Ready before the fault", log)
        _parse_once(admin, namespace)
        before = _stack(admin, namespace)
        jobs_before = {job["metadata"]["uid"] for job in _migrate_jobs(admin, namespace)}

        # A spec change: its reconcile applies the ConfigMaps and Secrets, then is held at the collector.
        gate = Gate("Deployment")
        gate.install(monkeypatch)
        admin.apply(_document(namespace, collector={"replicas": 2}))
        assert gate.held.wait(60), log.text()
        stopped = time.monotonic()
        plane.stop_apiserver()
        gate.release.set()
        assert gate.done.wait(60)
        assert isinstance(gate.outcome, KubeError) and gate.outcome.reason == "Unreachable", gate.outcome
        plane.start_apiserver()
        restarted = time.monotonic()
        down = restarted - stopped

        # Converged: the new replica count applied, both replicas ready, Ready again, the spec observed.
        wait_for(
            lambda: (
                (admin.get("Deployment", namespace, f"{NAME}-collector") or {}).get("spec", {}).get("replicas") == 2
            ),
            "the collector's new replica count",
            90,
            log,
        )
        mark_workload_ready(admin, "Deployment", namespace, f"{NAME}-collector", controllers=True)
        wait_for(lambda: _ready(admin, namespace), "Ready after the restart", 60, log)
        converged = time.monotonic() - restarted

    after = _stack(admin, namespace)
    # No Job created twice: the db-migrate Job is the very one from before (the spec change does not touch it).
    assert {job["metadata"]["uid"] for job in _migrate_jobs(admin, namespace)} == jobs_before
    # Nothing lost: the parse run, the schema version and the Job names are still in the status, and the
    # components that stayed ready kept their transition times.
    for key in KEPT_STATUS:
        assert after["status"].get(key) == before["status"].get(key), key
    kept = _condition_times(before)
    times = _condition_times(after)
    for kind in ("DatabaseReady", "SchemaReady", "ParserReady"):
        assert times[kind] == kept[kind], kind
    report(
        "API server stopped during a reconcile (held at the collector's apply): the reconcile ended"
        f" {gate.outcome.reason}; API server away {down:.1f} s (its stop and start included); Ready again"
        f" {converged:.1f} s after its start returned (the test marked the new replica ready); db-migrate Jobs"
        f" {len(jobs_before)} before, the same {len(jobs_before)} after; status kept: {', '.join(KEPT_STATUS)}"
    )


def test_the_operator_killed_mid_rollout_and_a_child_deleted_while_it_is_down(
    plane: AuditedControlPlane, admin: KubeApi, watched: Watched, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    namespace = watched.namespace
    report = figure_reporter(request.config, FIGURES)
    operator = OperatorProcess(watched.kubeconfig, [namespace], tmp_path / "operator.log", resync_seconds=RESYNC)
    operator.start()
    log = cast(Any, operator)  # what a failing wait prints: the operator's log
    try:
        admin.apply(_document(namespace))
        _drive_to_ready(admin, namespace, "Ready before the rollout", log)
        _parse_once(admin, namespace)
        before = _stack(admin, namespace)
        (old_job,) = _migrate_jobs(admin, namespace)

        # A rollout: a new retention changes the configuration and gives a new db-migrate Job. The operator is
        # killed as soon as the API server has seen its first write of the rollout.
        changed = now()
        admin.apply(_document(namespace, retention={"raw": "3y"}))

        def first_write() -> bool:
            return any(call.verb in ("patch", "create") for call in plane.calls(user=watched.user, since=changed))

        deadline = time.monotonic() + 60
        while not first_write():
            assert time.monotonic() < deadline, operator.text()
            time.sleep(0.02)
        operator.kill()
        killed = now()
        jobs_at_kill = {job["metadata"]["name"]: job["metadata"]["uid"] for job in _migrate_jobs(admin, namespace)}

        # While it is down, someone deletes the collector's configuration and its Service.
        admin.delete("ConfigMap", namespace, f"{NAME}-collector-config")
        admin.delete("Service", namespace, f"{NAME}-collector")

        # Started again with a resync far longer than the test: what follows rests on its resume reconcile and on
        # the events it watches.
        operator.resync_seconds = 3600
        operator.start()
        restarted = time.monotonic()
        wait_for(
            lambda: admin.get("ConfigMap", namespace, f"{NAME}-collector-config"),
            "the ConfigMap back",
            60,
            log,
        )
        wait_for(lambda: admin.get("Service", namespace, f"{NAME}-collector"), "the Service back", 60, log)
        restored = time.monotonic() - restarted
        # The superseded db-migrate Job is removed (the restarted operator prunes on its first reconcile), the new
        # one is there, once.
        new_jobs = wait_for(
            lambda: (
                (jobs := _migrate_jobs(admin, namespace))
                and all(job["metadata"]["name"] != old_job["metadata"]["name"] for job in jobs)
                and jobs
            ),
            "only the new db-migrate Job",
            60,
            log,
        )
        assert len(new_jobs) == 1, [job["metadata"]["name"] for job in new_jobs]
        new_job = new_jobs[0]["metadata"]
        if new_job["name"] in jobs_at_kill:
            assert new_job["uid"] == jobs_at_kill[new_job["name"]], "the Job created before the kill was created again"
        _drive_to_ready(admin, namespace, "Ready after the rollout", log)
        creations = [
            call
            for call in plane.calls(user=watched.user, since=changed)
            if call.resource == "jobs" and call.name == new_job["name"] and call.status == 201
        ]
        assert len(creations) == 1, creations

        after = _stack(admin, namespace)
        assert after["status"]["migrationJob"] == new_job["name"]
        assert after["status"]["lastParse"] == before["status"]["lastParse"]
        assert after["status"]["schemaVersion"] == before["status"]["schemaVersion"]
        assert killed > changed
        report(
            f"operator SIGKILLed at its first rollout write, ConfigMap and Service deleted while it was down:"
            f" both back {restored:.1f} s after its restart; the new db-migrate Job created {len(creations)} time(s)"
            f" (audit log), the superseded one pruned; lastParse and schemaVersion kept"
        )

        # The restarted operator did not write the (complete) roles Secret itself: a person's rotation of it still
        # rolls the collector.
        roles = roles_secret_name(parse_stack(after))
        _wait_quiet(plane, watched.user, log)  # nothing scheduled that would pick the rotation up by chance
        checksum = _collector_checksum(admin, namespace)
        secret = admin.get("Secret", namespace, roles)
        assert secret is not None
        secret["data"]["collector-password"] = base64.b64encode(b"rotated-after-restart").decode()
        k8s.CoreV1Api(admin.client).replace_namespaced_secret(roles, namespace, cast(Any, secret))
        wait_for(lambda: _collector_checksum(admin, namespace) != checksum, "the collector rolled", 60, log)
    finally:
        operator.stop()


def _wait_quiet(plane: AuditedControlPlane, user: str, log: Any, seconds: float = 3.0) -> None:
    """Until the operator has made no call (watches apart) for `seconds`."""

    def quiet() -> bool:
        calls = [call for call in plane.calls(user=user) if call.verb != "watch"]
        return not calls or (now() - calls[-1].at).total_seconds() >= seconds

    wait_for(quiet, f"{seconds:.0f} s without a call from the operator", 60, log)


def _collector_checksum(admin: KubeApi, namespace: str) -> str | None:
    workload = admin.get("Deployment", namespace, f"{NAME}-collector") or {}
    template = (workload.get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}).get(SECRETS_CHECKSUM_ANNOTATION)
