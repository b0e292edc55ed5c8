"""A control plane of its own for the operator's fault tests and bench/bench_operator.py: the session's
(tests/support/k8s_control_plane.py) plus an audit log of every request and an API server that can be stopped
and started again on the same port, over the same etcd.

The audit log is how calls are counted: the API server records every request it receives, the controller's and
kopf's alike (watches, Events, status patches), whoever makes them, so nothing the operator does can escape the
count and nothing in the operator has to be wrapped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.support import k8s_assets
from tests.support.k8s import KubeCluster
from tests.support.k8s_assets import APISERVER, CONTROLLER_MANAGER
from tests.support.k8s_control_plane import (
    ControlPlane,
    ManagedProcess,
    _client_tls,
    _http_ok,
    _spawn,
    _wait_until,
)

# Metadata of every request, once, when its answer is complete (a watch: when it ends; ResponseStarted marks its
# start and is kept too, so a watch still open is counted).
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


@dataclass(frozen=True)
class Call:
    """One request as the API server's audit log recorded it."""

    user: str
    verb: str
    uri: str
    resource: str
    namespace: str
    name: str
    status: int
    at: datetime

    def mentions(self, stack: str) -> bool:
        """Whether the request is about this stack or one of its children (named `<stack>-...`), by its path or
        by the label selector of a LIST."""
        uri = unquote(self.uri)
        return self.name == stack or self.name.startswith(f"{stack}-") or f"app.kubernetes.io/instance={stack}" in uri


class AuditedControlPlane(ControlPlane):
    """A ControlPlane whose kube-apiserver writes an audit log and can be restarted."""

    apiserver_command: list[str]

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def _launch(self, name: str, command: list[str]) -> ManagedProcess:
        if name == APISERVER:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(AUDIT_POLICY, encoding="utf-8")
            command = [
                *command,
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",  # written before the answer: a call is in the log once made
                "--audit-log-maxsize=0",
            ]
            self.apiserver_command = command
        return super()._launch(name, command)

    def _apiserver(self) -> ManagedProcess:
        return next(process for process in self.processes if process.name == APISERVER)

    def stop_apiserver(self) -> None:
        self._apiserver().stop()

    def start_apiserver(self) -> None:
        """The API server again, same flags and port, same etcd; returns once it answers /readyz."""
        old = self._apiserver()
        process = _spawn(APISERVER, self.apiserver_command, self.workdir)
        self.processes[self.processes.index(old)] = process
        if self._registry is not None:
            self._registry.record(self.workdir, self.processes)
        context = _client_tls(self.pki)
        _wait_until(process, lambda: _http_ok(f"{self.server}/readyz", context), what="kube-apiserver /readyz")

    def calls(self, *, user: str | None = None, since: datetime | None = None) -> list[Call]:
        """Requests in the audit log, one per request (by audit id), in order."""
        found: dict[str, Call] = {}
        if not self.audit_log.exists():
            return []
        with self.audit_log.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry: dict[str, Any] = json.loads(line)
                except ValueError:
                    continue  # a line being written
                who = str((entry.get("user") or {}).get("username") or "")
                at = datetime.fromisoformat(str(entry["requestReceivedTimestamp"]).replace("Z", "+00:00"))
                if (user is not None and who != user) or (since is not None and at < since):
                    continue
                ref = entry.get("objectRef") or {}
                resource = str(ref.get("resource") or "") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
                found.setdefault(
                    str(entry["auditID"]),
                    Call(
                        user=who,
                        verb=str(entry.get("verb") or ""),
                        uri=str(entry.get("requestURI") or ""),
                        resource=resource,
                        namespace=str(ref.get("namespace") or ""),
                        name=str(ref.get("name") or ""),
                        status=int((entry.get("responseStatus") or {}).get("code") or 0),
                        at=at,
                    ),
                )
        return sorted(found.values(), key=lambda call: call.at)

    def cluster(self) -> KubeCluster:
        """The same view of this plane as the session's `kube_cluster` fixture gives of its own."""
        return KubeCluster(
            kubeconfig=self.kubeconfig,
            server=self.server,
            ca_file=self.pki.ca_cert,
            helm=None,
            controller_manager=self.with_controller_manager,
            workdir=self.workdir,
        )


@contextmanager
def audited_control_plane(*, with_controller_manager: bool = True) -> Iterator[AuditedControlPlane]:
    binaries = k8s_assets.ensure_control_plane(with_controller_manager=with_controller_manager)
    plane = AuditedControlPlane.start(
        binaries, with_controller_manager=with_controller_manager and CONTROLLER_MANAGER in binaries.paths
    )
    try:
        yield plane
    finally:
        plane.stop()


def now() -> datetime:
    return datetime.now(UTC)


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass
class OperatorProcess:
    """`georchestra-analytics operator` as a process of its own: killed with SIGKILL, as a node failure or an
    OOM kill would, not stopped."""

    kubeconfig: Path
    namespaces: list[str]
    log_file: Path
    resync_seconds: float = 600.0
    log_level: str = "INFO"
    process: subprocess.Popen[bytes] | None = None
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "georchestra_analytics",
            "--log-level",
            self.log_level,
            "operator",
            "--standalone",
        ]
        for namespace in self.namespaces:
            command += ["--namespace", namespace]
        command += ["--kubeconfig", str(self.kubeconfig), "--resync-interval", str(self.resync_seconds)]
        environment = {**os.environ, "ANALYTICS_METRICS_PORT": "0"}
        environment.pop("KUBECONFIG", None)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        self.started.append(time.monotonic())

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def text(self) -> str:
        """Its log so far (what a failing wait prints)."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")
