"""Running the real operator in the test process, under the ServiceAccount the Helm chart creates, and driving
what the missing kubelet would do.

The k8s tier is an API server and etcd (no kubelet): pods never run. Where a controller or the kubelet would
report progress, the tests write the same status through the status subresource, as admin:
- a workload's readiness (`readyReplicas`, `availableReplicas`), as the StatefulSet and Deployment controllers do
  once their pods are ready;
- a Job's outcome (`Complete` / `Failed` conditions, times), as the Job controller does;
- a parse run: a Job owned by the CronJob (what the CronJob controller creates) and its Pod, whose terminated
  container carries the termination message (what the kubelet copies from /dev/termination-log).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from georchestra_analytics.controller.jobs import ParserHealth
from georchestra_analytics.controller.reconcile import ReconcileOptions
from georchestra_analytics.controller.runner import OperatorOptions, run_operator
from georchestra_analytics.kube.apply import KubeApi, Object
from tests.support.helm_chart import RELEASE, template

T = TypeVar("T")
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding")
TEST_FIELD_MANAGER = "georchestra-analytics-tests"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def admin_api(kubeconfig: Path) -> KubeApi:
    return KubeApi(k8s_config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]


def create_namespace(api: KubeApi, name: str, *, restricted: bool = False) -> None:
    """A namespace (enforcing the `restricted` Pod Security level when asked) with its `default`
    ServiceAccount (no controller-manager creates it here, and pod admission looks it up)."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted"} if restricted else {}
    core = k8s.CoreV1Api(api.client)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=labels)))
    try:
        core.create_namespaced_service_account(name, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="default")))
    except k8s.ApiException as error:
        if error.status != 409:
            raise


def delete_namespace(api: KubeApi, name: str) -> None:
    try:
        k8s.CoreV1Api(api.client).delete_namespace(name)
    except k8s.ApiException as error:
        if error.status != 404:
            raise


def grant_chart_rbac(api: KubeApi, helm: Path, operator_namespace: str, watched: Sequence[str]) -> str:
    """Apply the ServiceAccount, Roles and RoleBindings the chart renders for these watched namespaces (exactly
    the chart's objects, from `helm template`); the ServiceAccount's name."""
    watch = ",".join(watched)
    manifest = template(helm, set_values=[f"watchNamespaces={{{watch}}}"], namespace=operator_namespace)
    account = None
    for document in yaml.safe_load_all(manifest):
        if document and document.get("kind") in RBAC_KINDS:
            api.apply(document)
            if document["kind"] == "ServiceAccount":
                account = str(document["metadata"]["name"])
    assert account is not None, f"the chart rendered no ServiceAccount for release {RELEASE}"
    return account


@dataclass
class OperatorLog(logging.Handler):
    """Every log record of kopf and the operator while it runs, for assertions and failure messages."""

    records: list[logging.LogRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records)

    def __hash__(self) -> int:
        return id(self)


@contextmanager
def running_operator(
    kubeconfig: Path,
    namespaces: Sequence[str],
    *,
    resync_seconds: float = 2.0,
    parser_health: ParserHealth | None = None,
) -> Iterator[OperatorLog]:
    """The operator (kopf and the controller) in a thread of this process, with this kubeconfig's identity."""
    stop, ready = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    options = OperatorOptions(
        namespaces=tuple(namespaces),
        kubeconfig=kubeconfig,
        resync_seconds=resync_seconds,
        reconcile=ReconcileOptions(parser_health=parser_health or ParserHealth()),
    )

    def target() -> None:
        try:
            run_operator(options, stop_flag=stop, ready_flag=ready)
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in the thread
            failures.append(error)

    log = OperatorLog()
    loggers = [logging.getLogger("kopf"), logging.getLogger("georchestra_analytics")]
    for logger in loggers:
        logger.addHandler(log)
        logger.setLevel(logging.DEBUG)
    thread = threading.Thread(target=target, name="operator", daemon=True)
    thread.start()
    try:
        if not ready.wait(60) or failures:
            raise RuntimeError(f"the operator did not start: {failures}\n{log.text()}")
        yield log
    finally:
        stop.set()
        thread.join(60)
        for logger in loggers:
            logger.removeHandler(log)
    if failures:
        raise RuntimeError(f"the operator stopped with an error: {failures[0]!r}\n{log.text()}")


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = 30.0, log: OperatorLog | None = None) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}" + (f"\n{log.text()}" if log else "")
            )
        time.sleep(0.25)


def condition(stack: Object | None, kind: str) -> dict[str, Any] | None:
    for item in ((stack or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return None


def _now(offset_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def mark_workload_ready(api: KubeApi, kind: str, namespace: str, name: str) -> None:
    """What the workload's controller writes once all its pods are ready."""
    workload = api.get(kind, namespace, name)
    assert workload is not None, f"{kind} {namespace}/{name} does not exist"
    replicas = int(workload["spec"].get("replicas") or 1)
    status: dict[str, Any] = {
        "observedGeneration": workload["metadata"]["generation"],
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "updatedReplicas": replicas,
    }
    if kind == "StatefulSet":
        status["currentReplicas"] = replicas
    api.patch_status(kind, namespace, name, status)


def finish_job(api: KubeApi, namespace: str, name: str, *, succeeded: bool, at_offset: float = 0) -> None:
    """What the Job controller writes when a Job's pod has succeeded, or when it gave up."""
    start, end = _now(at_offset - 5), _now(at_offset)
    if succeeded:
        status: dict[str, Any] = {
            "startTime": start,
            "completionTime": end,
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": end, "lastProbeTime": end},
                {"type": "Complete", "status": "True", "lastTransitionTime": end, "lastProbeTime": end},
            ],
        }
    else:
        status = {
            "startTime": start,
            "failed": 1,
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": end,
                    "lastProbeTime": end,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": end,
                    "lastProbeTime": end,
                },
            ],
        }
    api.patch_status("Job", namespace, name, status)


def job_pod(api: KubeApi, job: Object, message: str, *, exit_code: int) -> None:
    """The Job's pod, terminated with this termination message (as the kubelet reports it)."""
    meta = job["metadata"]
    template = job["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{uuid.uuid4().hex[:5]}",
            "namespace": meta["namespace"],
            "labels": {**(template["metadata"].get("labels") or {}), "batch.kubernetes.io/job-name": meta["name"]},
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"], "controller": True}
            ],
        },
        "spec": template["spec"],
    }
    created = api.create(pod)
    container = template["spec"]["containers"][0]["name"]
    terminated = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "message": message,
        "startedAt": _now(-5),
        "finishedAt": _now(),
    }
    api.patch_status(
        "Pod",
        meta["namespace"],
        created["metadata"]["name"],
        {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": container,
                    "image": container and template["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
            ],
        },
    )


def parse_run(api: KubeApi, cronjob: Object, message: str, *, succeeded: bool, at_offset: float = 0) -> str:
    """One parse run as the CronJob controller, the Job controller and the kubelet would leave it; its name."""
    meta = cronjob["metadata"]
    job_template = cronjob["spec"]["jobTemplate"]
    name = f"{meta['name']}-{uuid.uuid4().hex[:8]}"
    job = api.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": job_template["metadata"].get("labels") or {},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": job_template["spec"],
        }
    )
    job_pod(api, job, message, exit_code=0 if succeeded else 1)
    finish_job(api, meta["namespace"], name, succeeded=succeeded, at_offset=at_offset)
    return name
