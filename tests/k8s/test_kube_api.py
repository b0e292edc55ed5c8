"""The operator's API client against the real API server, and against the faults a real server does not make on
demand: a server that accepts connections and never answers (a half-open connection), and one that is gone.

Those two are loopback sockets standing in for the API server, and only for that: every call must end within its
timeout with the same KubeError the controller already handles for refusals (status 0, reason Unreachable)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from tests.support.k8s import KubeCluster

from georchestra_analytics.db.embedded import free_port
from georchestra_analytics.kube.apply import KubeApi, KubeError


@pytest.fixture
def admin(kube_cluster: KubeCluster) -> Iterator[KubeApi]:
    with kube_cluster.api_client() as client:
        yield KubeApi(client)


def test_list_follows_continue_tokens(admin: KubeApi, kube_namespace: str) -> None:
    labels = {"app.kubernetes.io/name": "paging-test"}
    for number in range(7):
        admin.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"page-{number}", "namespace": kube_namespace, "labels": labels},
                "data": {"n": str(number)},
            }
        )
    admin.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": kube_namespace}})
    paged = admin.list("ConfigMap", kube_namespace, labels, page_size=2)  # four pages, three continue tokens
    assert sorted(item["metadata"]["name"] for item in paged) == [f"page-{n}" for n in range(7)]
    assert admin.list("ConfigMap", kube_namespace, labels) == paged


def _client_for(port: int) -> k8s.ApiClient:
    configuration = k8s.Configuration(host=f"http://127.0.0.1:{port}")
    configuration.retries = False  # the fault must reach our error path, not urllib3's retry loop
    return k8s.ApiClient(configuration)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections, reads what comes, never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def test_an_api_server_that_never_answers_times_out_as_a_kube_error(silent_server: int) -> None:
    api = KubeApi(_client_for(silent_server), timeout=(2.0, 1.0))
    # Without a read timeout this call would wait forever (pytest-timeout would end it as a failure).
    with pytest.raises(KubeError, match=r"get ConfigMap ns/cm: no answer from the API server.*\(HTTP 0\)") as error:
        api.get("ConfigMap", "ns", "cm")
    assert error.value.status == 0 and error.value.reason == "Unreachable"


def test_an_api_server_that_is_gone_is_a_kube_error() -> None:
    api = KubeApi(_client_for(free_port()), timeout=(2.0, 2.0))  # nothing listens there
    with pytest.raises(KubeError) as error:
        api.list("Job", "ns", {"app.kubernetes.io/name": "x"})
    assert (error.value.status, error.value.reason) == (0, "Unreachable")
    assert str(error.value).startswith("list Job in ns: no answer from the API server")
