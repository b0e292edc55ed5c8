"""A real Kubernetes control plane on loopback for the test session: etcd, kube-apiserver (RBAC, PodSecurity) and,
when asked, kube-controller-manager (garbage collector, namespace, service-account, Job and CronJob controllers).
No scheduler and no kubelet: pods stay Pending.

Every run lives in its own temporary folder on ports the kernel picked, so nothing of an earlier run can collide.
The processes die with the Python process that started them (PR_SET_PDEATHSIG), and each run records its
processes under the cache folder: a run killed so hard that even that failed is cleaned up by the next one.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support import k8s_pki
from tests.support.k8s_assets import APISERVER, CONTROLLER_MANAGER, ETCD, Binaries, cache_root

START_TIMEOUT = 180.0  # seconds; the API server alone starts in a few seconds, a loaded 2-core machine is slower
STOP_TIMEOUT = 15.0
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """The control plane did not come up; the message carries the failing process's last log lines."""


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the test process dies, however it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _process_start_time(pid: int) -> str | None:
    """The start time in /proc/<pid>/stat: with the pid, it names one process even after pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_file: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise ControlPlaneError(f"{self.name} exited with {code}; last lines of {self.log_file}:\n{self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)


def _spawn(name: str, command: list[str], workdir: Path) -> ManagedProcess:
    log_file = workdir / f"{name}.log"
    with log_file.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            preexec_fn=_die_with_parent,  # the only way to set PDEATHSIG; the fixture is single-threaded
        )
    return ManagedProcess(name=name, process=process, log_file=log_file)


class _RunRegistry:
    """Files under the cache naming each run's owner and processes, so the next run can clean up after a crash."""

    def __init__(self) -> None:
        self.folder = cache_root() / "runs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.folder / f"{os.getpid()}.json"

    def record(self, workdir: Path, processes: list[ManagedProcess]) -> None:
        entry = {
            "owner": {"pid": os.getpid(), "start": _process_start_time(os.getpid())},
            "workdir": str(workdir),
            "processes": [
                {"pid": p.process.pid, "start": _process_start_time(p.process.pid), "name": p.name} for p in processes
            ],
        }
        self.file.write_text(json.dumps(entry), encoding="utf-8")

    def forget(self) -> None:
        self.file.unlink(missing_ok=True)

    def clean_stale(self) -> list[str]:
        """Stops the processes of runs whose owner is gone and removes their folders; says what it did."""
        cleaned: list[str] = []
        for entry_file in self.folder.glob("*.json"):
            try:
                entry = json.loads(entry_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entry_file.unlink(missing_ok=True)
                continue
            owner = entry["owner"]
            if owner["start"] is not None and _process_start_time(owner["pid"]) == owner["start"]:
                continue  # that run is alive (another session): leave it alone
            for process in entry["processes"]:
                if process["start"] is not None and _process_start_time(process["pid"]) == process["start"]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process["pid"], signal.SIGKILL)
                    cleaned.append(f"killed stale {process['name']} (pid {process['pid']})")
            shutil.rmtree(entry["workdir"], ignore_errors=True)
            entry_file.unlink(missing_ok=True)
        return cleaned


@dataclass
class ControlPlane:
    workdir: Path
    pki: k8s_pki.ControlPlanePki
    server: str
    kubeconfig: Path
    with_controller_manager: bool
    processes: list[ManagedProcess] = field(default_factory=list)
    start_seconds: dict[str, float] = field(default_factory=dict)
    stale_cleanup: list[str] = field(default_factory=list)
    _registry: _RunRegistry | None = None

    @classmethod
    def start(cls, binaries: Binaries, *, with_controller_manager: bool) -> ControlPlane:
        registry = _RunRegistry()
        stale = registry.clean_stale()
        workdir = Path(tempfile.mkdtemp(prefix="georchestra-analytics-k8s-"))
        started = time.monotonic()
        pki = k8s_pki.generate(workdir / "pki")
        etcd_client, etcd_peer, apiserver_port = free_port(), free_port(), free_port()
        server = f"https://127.0.0.1:{apiserver_port}"
        plane = cls(
            workdir=workdir,
            pki=pki,
            server=server,
            kubeconfig=workdir / "admin.kubeconfig",
            with_controller_manager=with_controller_manager,
            stale_cleanup=stale,
            _registry=registry,
        )
        plane.kubeconfig.write_text(admin_kubeconfig(server, pki), encoding="utf-8")
        plane.start_seconds["certificates"] = time.monotonic() - started
        try:
            plane._start_etcd(binaries.paths[ETCD], etcd_client, etcd_peer)
            plane._start_apiserver(binaries.paths[APISERVER], apiserver_port, etcd_client)
            if with_controller_manager:
                plane._start_controller_manager(binaries.paths[CONTROLLER_MANAGER])
        except BaseException:
            plane.stop()
            raise
        plane.start_seconds["total"] = time.monotonic() - started
        return plane

    def _launch(self, name: str, command: list[str]) -> ManagedProcess:
        process = _spawn(name, command, self.workdir)
        self.processes.append(process)
        assert self._registry is not None
        self._registry.record(self.workdir, self.processes)
        return process

    def _start_etcd(self, binary: Path, client_port: int, peer_port: int) -> None:
        started = time.monotonic()
        client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        etcd = self._launch(
            ETCD,
            [
                str(binary),
                "--name=test",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=test={peer_url}",
                "--unsafe-no-fsync",  # a throwaway store: durability costs time and buys nothing here
                "--log-level=warn",
            ],
        )
        _wait_until(etcd, lambda: _http_ok(f"{client_url}/health"), what="etcd /health")
        self.start_seconds["etcd"] = time.monotonic() - started

    def _start_apiserver(self, binary: Path, port: int, etcd_client_port: int) -> None:
        started = time.monotonic()
        pki = self.pki
        apiserver = self._launch(
            APISERVER,
            [
                str(binary),
                f"--etcd-servers=http://127.0.0.1:{etcd_client_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The `kubernetes` Service's endpoints may not point at loopback, and nothing here needs them.
                "--endpoint-reconciler-type=none",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC",
                "--enable-admission-plugins=PodSecurity",
                "--allow-privileged=true",
                "--v=1",
            ],
        )
        context = _client_tls(pki)
        _wait_until(apiserver, lambda: _http_ok(f"{self.server}/readyz", context), what="kube-apiserver /readyz")
        self.start_seconds["kube-apiserver"] = time.monotonic() - started

    def _start_controller_manager(self, binary: Path) -> None:
        started = time.monotonic()
        pki = self.pki
        manager = self._launch(
            CONTROLLER_MANAGER,
            [
                str(binary),
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",  # nothing to serve: readiness is seen through the API instead
                f"--root-ca-file={pki.ca_cert}",
                f"--service-account-private-key-file={pki.service_account_key}",
                f"--cluster-signing-cert-file={pki.ca_cert}",
                f"--cluster-signing-key-file={pki.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--v=1",
            ],
        )
        context = _client_tls(pki)
        # The service-account controller creating `default` in `default` shows the controllers run.
        url = f"{self.server}/api/v1/namespaces/default/serviceaccounts/default"
        _wait_until(manager, lambda: _http_ok(url, context), what="the controller-manager's first ServiceAccount")
        self.start_seconds["kube-controller-manager"] = time.monotonic() - started

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self._registry is not None:
            self._registry.forget()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _client_tls(pki: k8s_pki.ControlPlanePki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_until(process: ManagedProcess, ready: object, *, what: str) -> None:
    assert callable(ready)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        process.check_alive()
        if ready():
            return
        time.sleep(0.2)
    raise ControlPlaneError(
        f"{what} not ready after {START_TIMEOUT:.0f} s; last lines of {process.log_file}:\n{process.tail()}"
    )


def admin_kubeconfig(server: str, pki: k8s_pki.ControlPlanePki) -> str:
    return kubeconfig_yaml(
        server,
        str(pki.ca_cert),
        user=k8s_pki.ADMIN_USER,
        credentials={"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)},
    )


def kubeconfig_yaml(server: str, ca_file: str | None, *, user: str, credentials: dict[str, str]) -> str:
    cluster: dict[str, object] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = ca_file
    else:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }
    return yaml.safe_dump(config, sort_keys=False)
