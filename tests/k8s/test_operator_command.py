"""`georchestra-analytics operator` as a process, the way the chart's Deployment starts it (standalone, watched
namespace, liveness endpoint, metrics port, JSON logs), under the chart's ServiceAccount: it reconciles a stack,
answers its liveness probe, exports its metrics, logs JSON lines and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.helm_chart import crd_document
from tests.support.helm_cluster import install_crd
from tests.support.operator import (
    admin_api,
    create_namespace,
    delete_namespace,
    grant_chart_rbac,
    unique,
    wait_for,
)

from georchestra_analytics.kube.apply import KubeApi
from georchestra_analytics.stack import KIND

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL built here
            return int(response.status), response.read().decode("utf-8")
    except OSError:
        return 0, ""


@pytest.fixture
def watched(kube_cluster: Any, helm_binary: Path) -> Iterator[tuple[KubeApi, str, Path]]:
    admin = admin_api(Path(kube_cluster.kubeconfig))
    install_crd(admin.client, crd_document())
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    try:
        yield admin, namespace, Path(kube_cluster.service_account_kubeconfig(operator_namespace, account))
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def test_the_operator_command_reconciles_probes_exports_metrics_and_stops(
    watched: tuple[KubeApi, str, Path], tmp_path: Path
) -> None:
    admin, namespace, kubeconfig = watched
    liveness, metrics = _free_port(), _free_port()
    command = [
        sys.executable,
        "-m",
        "georchestra_analytics",
        "--log-format",
        "json",
        "operator",
        "--standalone",
        f"--liveness=http://127.0.0.1:{liveness}/healthz",
        "--namespace",
        namespace,
        "--kubeconfig",
        str(kubeconfig),
        "--resync-interval",
        "2",
    ]
    environment = {**os.environ, "ANALYTICS_METRICS_PORT": str(metrics)}
    environment.pop("KUBECONFIG", None)
    stderr = tmp_path / "operator.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=environment)
    try:
        stack = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text(encoding="utf-8"))
        stack["metadata"]["namespace"] = namespace
        admin.apply(stack)
        wait_for(
            lambda: ((admin.get(KIND, namespace, "analytics") or {}).get("status") or {}).get("observedGeneration"),
            f"the stack's status\n{stderr.read_text(encoding='utf-8', errors='replace')}",
            timeout=60,
        )
        assert wait_for(lambda: _get(f"http://127.0.0.1:{liveness}/healthz")[0] == 200, "the liveness endpoint")
        wait_for(lambda: _get(f"http://127.0.0.1:{metrics}/metrics")[0] == 200, "the metrics endpoint")
        exported = _get(f"http://127.0.0.1:{metrics}/metrics")[1]
        samples = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in exported.splitlines()
            if line.startswith("georchestra_analytics_")
        }
        assert samples['georchestra_analytics_reconciles_total{trigger="create"}'] >= 1
        assert samples['georchestra_analytics_reconcile_duration_seconds_count{trigger="create"}'] >= 1
        assert samples["georchestra_analytics_children_applied_total"] >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    lines = [line for line in stderr.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert code == 0, "\n".join(lines[-20:])
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(record["logger"].startswith("kopf") for record in records)
    assert any("operator starting" in record["message"] for record in records)
