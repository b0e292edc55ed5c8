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
from tests.support.helm_chart import RELEASE, crd_document, template
from tests.support.helm_cluster import install_crd, server_side_apply

T = TypeVar("T")
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
TEST_FIELD_MANAGER = "georchestra-analytics-tests"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def admin_api(kubeconfig: Path) -> KubeApi:
    return KubeApi(k8s_config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]


def admin_with_crd(kubeconfig: Path) -> KubeApi:
    """The cluster admin's client, once the chart's AnalyticsStack CRD is installed and served."""
    api = admin_api(kubeconfig)
    install_crd(api.client, crd_document())
    return api


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


def grant_chart_rbac(
    api: KubeApi, helm: Path, operator_namespace: str, watched: Sequence[str], *, release: str = RELEASE
) -> str:
    """Apply the ServiceAccount and the Roles and RoleBindings (or, with no watched namespace, the ClusterRole and
    ClusterRoleBinding) the chart renders (exactly the chart's objects, from `helm template`); the
    ServiceAccount's name."""
    values = [f"watchNamespaces={{{','.join(watched)}}}"] if watched else []
    manifest = template(helm, set_values=values, namespace=operator_namespace, release=release)
    account = None
    for document in yaml.safe_load_all(manifest):
        if document and document.get("kind") in RBAC_KINDS:
            server_side_apply(api.client, document, dry_run=False)
            if document["kind"] == "ServiceAccount":
                account = str(document["metadata"]["name"])
    assert account is not None, f"the chart rendered no ServiceAccount for release {release}"
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


def _pods(api: KubeApi, namespace: str, labels: dict[str, str]) -> list[Object]:
    return api.list("Pod", namespace, labels)


def _ready_pod_status(pod: Object) -> dict[str, Any]:
    """What the kubelet reports for a pod whose containers all run and pass their readiness probe."""
    now = _now()
    containers = pod["spec"]["containers"]
    return {
        "phase": "Running",
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ],
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for container in containers
        ],
    }


def mark_workload_ready(api: KubeApi, kind: str, namespace: str, name: str, *, controllers: bool) -> None:
    """Make a Deployment's or StatefulSet's replicas ready. With controllers running, their pods are reported
    ready as the kubelet would and the real controllers compute the workload's status; without them, the status
    the controller would write is written directly."""
    workload = api.get(kind, namespace, name)
    assert workload is not None, f"{kind} {namespace}/{name} does not exist"
    replicas = int(workload["spec"].get("replicas") or 1)
    if not controllers:
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
        return
    selector = dict(workload["spec"]["selector"]["matchLabels"])

    def all_ready() -> bool:
        for pod in _pods(api, namespace, selector):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            ready = [c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
            if not ready or ready[0]["status"] != "True":
                api.patch_status("Pod", namespace, pod["metadata"]["name"], _ready_pod_status(pod))
        current = api.get(kind, namespace, name) or {}
        return int((current.get("status") or {}).get("availableReplicas") or 0) >= replicas

    wait_for(all_ready, f"{kind} {name}: {replicas} ready replicas", timeout=60)


def _terminated_pod_status(pod: Object, message: str, exit_code: int) -> dict[str, Any]:
    container = pod["spec"]["containers"][0]
    return {
        "phase": "Succeeded" if exit_code == 0 else "Failed",
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Completed" if exit_code == 0 else "Error",
                        "message": message,
                        "startedAt": _now(-5),
                        "finishedAt": _now(),
                    }
                },
            }
        ],
    }


def job_pod(api: KubeApi, job: Object, message: str, *, exit_code: int, controllers: bool) -> None:
    """The Job's pod terminated with this termination message, as the kubelet reports it. With controllers, the
    pod the Job controller created; without, a pod created here as that controller would."""
    meta = job["metadata"]
    namespace = meta["namespace"]
    if controllers:
        pod = wait_for(
            lambda: next(iter(_pods(api, namespace, {"batch.kubernetes.io/job-name": meta["name"]})), None),
            f"the pod of Job {meta['name']}",
        )
    else:
        template = job["spec"]["template"]
        pod = api.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{meta['name']}-{uuid.uuid4().hex[:5]}",
                    "namespace": namespace,
                    "labels": {
                        **(template["metadata"].get("labels") or {}),
                        "batch.kubernetes.io/job-name": meta["name"],
                    },
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": template["spec"],
            }
        )
    api.patch_status("Pod", namespace, pod["metadata"]["name"], _terminated_pod_status(pod, message, exit_code))


def _job_finished(job: Object | None, kind: str) -> bool:
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == kind and c["status"] == "True" for c in conditions)


def finish_job(
    api: KubeApi, namespace: str, name: str, *, succeeded: bool, message: str = "", controllers: bool
) -> None:
    """A Job run to its end: its pod terminates with `message`; the Job controller (or, without it, this
    function writing what it would) marks the Job Complete or Failed. A failing Job with retries left is marked
    Failed at once instead of waiting through the controller's back-off."""
    job = api.get("Job", namespace, name)
    assert job is not None, f"Job {namespace}/{name} does not exist"
    job_pod(api, job, message, exit_code=0 if succeeded else 1, controllers=controllers)
    wanted = "Complete" if succeeded else "Failed"
    retries = int(job["spec"].get("backoffLimit") or 0)
    if controllers and (succeeded or retries == 0):
        wait_for(lambda: _job_finished(api.get("Job", namespace, name), wanted), f"Job {name} {wanted}")
        return
    start, end = _now(-5), _now()
    # The Job controller may have set startTime already (it is immutable once set).
    current = (api.get("Job", namespace, name) or {}).get("status") or {}
    common = {"startTime": current.get("startTime") or start, "active": 0, "ready": 0, "terminating": 0}
    if succeeded:
        status: dict[str, Any] = {
            **common,
            "completionTime": end,
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": end, "lastProbeTime": end},
                {"type": "Complete", "status": "True", "lastTransitionTime": end, "lastProbeTime": end},
            ],
        }
    else:
        failure = {"reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
        status = {
            **common,
            "failed": 1,
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": end, "lastProbeTime": end, **failure}
                for kind in ("FailureTarget", "Failed")
            ],
        }
    api.patch_status("Job", namespace, name, status)
    wait_for(lambda: _job_finished(api.get("Job", namespace, name), wanted), f"Job {name} {wanted}")


def parse_run(api: KubeApi, cronjob: Object, message: str, *, succeeded: bool, controllers: bool) -> str:
    """One parse run: a Job from the CronJob's template, owned by it (what the CronJob controller creates), run
    to its end with this termination message; its name."""
    meta = cronjob["metadata"]
    job_template = cronjob["spec"]["jobTemplate"]
    name = f"{meta['name']}-{uuid.uuid4().hex[:8]}"
    api.create(
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
    finish_job(api, meta["namespace"], name, succeeded=succeeded, message=message, controllers=controllers)
    return name
