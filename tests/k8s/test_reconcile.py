"""reconcile() itself, called directly (no kopf) on a real API server, with a client that records which calls it
makes: the first reconcile creates every child and writes a status; a second with nothing changed writes nothing
(no child changes version, no status patch) and looks for no superseded child; a change of the desired set of
children prunes exactly the superseded ones; an existing Job is never sent again; an invalid spec and an API error
are reported in the status; a finished parse run updates only the parser's part of the status.

A unit test would need a stand-in for server-side apply, ownerReferences and the status subresource, which is
most of what reconcile relies on; the real API server is used instead (no kubelet: pods never run).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.helm_chart import crd_document
from tests.support.helm_cluster import install_crd
from tests.support.k8s import KubeCluster
from tests.support.operator import parse_run, wait_for

from georchestra_analytics.controller.reconcile import (
    PRUNED_KINDS,
    ReconcileResult,
    reconcile,
    reconcile_parse_runs,
    report_error,
)
from georchestra_analytics.kube.apply import KubeApi, KubeError, Object
from georchestra_analytics.stack import KIND

REPO = Path(__file__).resolve().parents[2]
NAME = "analytics"
CHILD_KINDS = ("ConfigMap", "Secret", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "CronJob", "Job")


class RecordingApi(KubeApi):
    """The real client, noting each call as (verb, kind)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.calls: list[tuple[str, str]] = []

    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        self.calls.append(("get", kind))
        return super().get(kind, namespace, name)

    def list(self, kind: str, namespace: str, labels: Any, *, page_size: int = 500) -> list[Object]:
        self.calls.append(("list", kind))
        return super().list(kind, namespace, labels, page_size=page_size)

    def apply(self, obj: Any) -> Object:
        self.calls.append(("apply", str(obj["kind"])))
        return super().apply(obj)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        self.calls.append(("delete", kind))
        return super().delete(kind, namespace, name)

    def patch_status(self, kind: str, namespace: str, name: str, status: Any) -> Object:
        self.calls.append(("patch_status", kind))
        return super().patch_status(kind, namespace, name, status)

    def take(self) -> list[tuple[str, str]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def api(kube_cluster: KubeCluster) -> Iterator[RecordingApi]:
    with kube_cluster.api_client() as client:
        install_crd(client, crd_document())
        yield RecordingApi(client)


def _document(namespace: str, **spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text(encoding="utf-8"))
    document["metadata"]["namespace"] = namespace
    document["spec"].update(spec)
    return document


def _stack(api: KubeApi, namespace: str) -> Object:
    found = api.get(KIND, namespace, NAME)
    assert found is not None
    return found


def _children(api: KubeApi, namespace: str) -> dict[str, Object]:
    return {
        f"{kind}/{item['metadata']['name']}": item
        for kind in CHILD_KINDS
        for item in api.list(kind, namespace, {"app.kubernetes.io/instance": NAME})
    }


def _versions(children: dict[str, Object]) -> dict[str, str]:
    return {key: obj["metadata"]["resourceVersion"] for key, obj in children.items()}


def _first(api: RecordingApi, namespace: str, **spec: Any) -> ReconcileResult:
    api.apply(_document(namespace, **spec))
    api.take()
    return reconcile(api, _stack(api, namespace), datetime.now(UTC), created=True)


def _prune_lists(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Pods and Jobs are listed to observe outcomes; a LIST of any other pruned kind is a search for strays.
    return [call for call in calls if call[0] == "list" and call[1] in PRUNED_KINDS and call[1] != "Job"]


def test_the_first_reconcile_creates_every_child_and_writes_a_status(api: RecordingApi, kube_namespace: str) -> None:
    result = _first(api, kube_namespace)
    calls = api.take()
    children = _children(api, kube_namespace)
    assert set(result.applied) <= children.keys()
    assert {key for key in children if key.split("/")[0] in PRUNED_KINDS} == result.wanted
    uid = _stack(api, kube_namespace)["metadata"]["uid"]
    for key, child in children.items():
        assert [owner["uid"] for owner in child["metadata"]["ownerReferences"]] == [uid], key
    # A stack just created owns nothing yet: no search for superseded children, no delete.
    assert _prune_lists(calls) == [] and not any(verb == "delete" for verb, _ in calls)
    assert result.pruned and result.status_changed
    status = _stack(api, kube_namespace)["status"]
    assert status["phase"] == "Provisioning"
    assert status["observedGeneration"] == _stack(api, kube_namespace)["metadata"]["generation"]
    assert status == result.status


def test_a_second_reconcile_with_nothing_changed_writes_nothing(api: RecordingApi, kube_namespace: str) -> None:
    first = _first(api, kube_namespace)
    before_children = _versions(_children(api, kube_namespace))
    stack = _stack(api, kube_namespace)
    api.take()

    again = reconcile(api, stack, datetime.now(UTC), last_pruned=first.wanted)
    calls = api.take()

    assert _versions(_children(api, kube_namespace)) == before_children  # server-side apply of the same: no-op
    assert _stack(api, kube_namespace)["metadata"]["resourceVersion"] == stack["metadata"]["resourceVersion"]
    assert not again.status_changed and not again.pruned and again.deleted == []
    assert ("patch_status", KIND) not in calls and _prune_lists(calls) == []
    assert ("apply", "Job") not in calls  # the db-migrate Job exists: read, never sent again
    assert again.wanted == first.wanted


def test_a_restarted_operator_looks_for_strays_once(api: RecordingApi, kube_namespace: str) -> None:
    """Without a remembered set (an operator that just started) the search runs, and removes only the stack's
    own superseded children: a ConfigMap it owns but no longer wants goes, one it does not own stays."""
    first = _first(api, kube_namespace)
    stack = _stack(api, kube_namespace)
    owner = {"apiVersion": stack["apiVersion"], "kind": KIND, "name": NAME, "uid": stack["metadata"]["uid"]}
    labels = {
        "app.kubernetes.io/name": "georchestra-analytics",
        "app.kubernetes.io/instance": NAME,
        "app.kubernetes.io/managed-by": "georchestra-analytics-operator",
    }
    for name, owners in (("stray-owned", [owner]), ("stray-foreign", [])):
        api.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": kube_namespace, "labels": labels, "ownerReferences": owners},
            }
        )
    api.take()

    remembered = reconcile(api, stack, datetime.now(UTC), last_pruned=first.wanted)
    assert remembered.deleted == [] and api.get("ConfigMap", kube_namespace, "stray-owned") is not None
    api.take()

    restarted = reconcile(api, _stack(api, kube_namespace), datetime.now(UTC), last_pruned=None)
    calls = api.take()
    assert restarted.deleted == ["ConfigMap/stray-owned"]
    assert sorted(kind for _, kind in _prune_lists(calls)) == sorted(kind for kind in PRUNED_KINDS if kind != "Job")
    assert api.get("ConfigMap", kube_namespace, "stray-owned") is None
    assert api.get("ConfigMap", kube_namespace, "stray-foreign") is not None


def test_a_new_desired_set_prunes_exactly_the_superseded_children(api: RecordingApi, kube_namespace: str) -> None:
    first = _first(api, kube_namespace)
    (old_job,) = [key for key in first.wanted if key.startswith("Job/")]
    api.apply(_document(kube_namespace, retention={"raw": "3y"}))  # what db-migrate applies: a new Job
    api.take()

    changed = reconcile(api, _stack(api, kube_namespace), datetime.now(UTC), last_pruned=first.wanted)

    (new_job,) = [key for key in changed.wanted if key.startswith("Job/")]
    assert new_job != old_job
    assert changed.pruned and changed.deleted == [old_job]
    assert changed.wanted - first.wanted == {new_job} and first.wanted - changed.wanted == {old_job}
    live = api.get("Job", kube_namespace, old_job.split("/", 1)[1])
    assert live is None or live["metadata"].get("deletionTimestamp")
    assert _stack(api, kube_namespace)["status"]["migrationJob"] == new_job.split("/", 1)[1]


def test_an_invalid_spec_and_an_api_error_are_reported_in_the_status(api: RecordingApi, kube_namespace: str) -> None:
    _first(api, kube_namespace)
    stack = _stack(api, kube_namespace)
    # A spec the CRD would let through in an older version but the model refuses (the body is not stored).
    invalid = copy.deepcopy(stack)
    invalid["spec"]["collector"]["replicas"] = -1
    api.take()
    refused = reconcile(api, invalid, datetime.now(UTC))
    assert [call for call in api.take() if call[0] != "patch_status"] == []  # nothing applied, nothing read
    status = _stack(api, kube_namespace)["status"]
    assert status["phase"] == "Failed" and refused.status["phase"] == "Failed"
    ready = next(item for item in status["conditions"] if item["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "replicas" in ready["message"]

    error = KubeError("apply Deployment x/y", 0, "Unreachable", "no answer from the API server: timed out")
    reported = report_error(api, _stack(api, kube_namespace), error, datetime.now(UTC))
    ready = next(item for item in _stack(api, kube_namespace)["status"]["conditions"] if item["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ReconcileError")
    assert "no answer from the API server" in ready["message"]
    assert [transition.current.reason.value for transition in reported.transitions] == ["ReconcileError"]


def test_a_finished_parse_run_updates_only_the_parser_status(
    api: RecordingApi, kube_namespace: str, kube_cluster: KubeCluster
) -> None:
    """reconcile_parse_runs: two LISTs and one status patch; ParserReady, Ready and lastParse change, nothing else.
    A full reconcile after every parse Job is gone keeps the last run in the status."""
    first = _first(api, kube_namespace)
    cronjob = api.get("CronJob", kube_namespace, f"{NAME}-parse")
    assert cronjob is not None
    counts = {"claimed": 5, "written": 4, "rejected": 1, "oldest_buffered_age_seconds": 2}
    job = parse_run(api, cronjob, json.dumps(counts), succeeded=True, controllers=kube_cluster.controller_manager)
    before = _stack(api, kube_namespace)
    api.take()

    result = reconcile_parse_runs(api, before, datetime.now(UTC))

    assert result is not None
    assert api.take() == [("list", "Job"), ("list", "Pod"), ("patch_status", KIND)]
    after = _stack(api, kube_namespace)
    assert after["status"]["lastParse"]["jobName"] == job
    assert after["status"]["lastParse"]["written"] == 4
    parser = next(item for item in after["status"]["conditions"] if item["type"] == "ParserReady")
    assert (parser["status"], parser["reason"]) == ("True", "ParseSucceeded")
    unchanged = {item["type"]: item for item in before["status"]["conditions"] if item["type"] != "ParserReady"}
    for item in after["status"]["conditions"]:
        if item["type"] not in ("ParserReady", "Ready"):
            assert item == unchanged[item["type"]], item["type"]

    # Every parse Job deleted (by hand, or aged out): a full reconcile keeps the run it reported last.
    for parse_job in api.list("Job", kube_namespace, {"app.kubernetes.io/component": "parser"}):
        api.delete("Job", kube_namespace, parse_job["metadata"]["name"])
    wait_for(
        lambda: (
            not [
                j
                for j in api.list("Job", kube_namespace, {"app.kubernetes.io/component": "parser"})
                if not j["metadata"].get("deletionTimestamp")
            ]
        ),
        "the parse Jobs gone",
    )
    reconcile(api, _stack(api, kube_namespace), datetime.now(UTC), last_pruned=first.wanted)
    assert _stack(api, kube_namespace)["status"]["lastParse"] == after["status"]["lastParse"]


def test_a_parse_run_defers_to_a_full_reconcile_when_it_cannot_tell(api: RecordingApi, kube_namespace: str) -> None:
    _first(api, kube_namespace)
    stack = _stack(api, kube_namespace)
    suspended = copy.deepcopy(stack)
    suspended["spec"]["suspend"] = True
    no_status = {key: value for key, value in stack.items() if key != "status"}
    held = copy.deepcopy(stack)
    for item in held["status"]["conditions"]:
        if item["type"] == "ParserReady":
            item["reason"] = "SecretNotFound"  # the pseudonymization key's Secret is missing
    unknown = copy.deepcopy(stack)
    unknown["status"]["conditions"][0]["reason"] = "AReasonOfAnotherVersion"
    api.take()
    for body in (suspended, no_status, held, unknown):
        assert reconcile_parse_runs(api, body, datetime.now(UTC)) is None
    assert api.take() == []
