"""spec.parser.backlogAlertAge is the threshold of ParserReady's BacklogGrowing: a whole reconcile, against an
in-memory API holding two finished parse runs, reports the same growing backlog or not depending on the stack's
value alone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from georchestra_analytics.controller.reconcile import reconcile
from georchestra_analytics.kube.apply import KubeApi, Object
from georchestra_analytics.kube.naming import APP_NAME, PARSER
from georchestra_analytics.stack.status import ConditionType, Reason

NAMESPACE = "geo"
NAME = "analytics"
NOW = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)


class MemoryApi(KubeApi):
    """Objects by kind, namespace and name; apply stores the object as given, patch_status keeps the last one."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Object] = {}
        self.status: dict[str, Any] = {}

    def add(self, obj: Object) -> None:
        meta = obj["metadata"]
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = obj

    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        return self.objects.get((kind, namespace, name))

    def list(self, kind: str, namespace: str, labels: Mapping[str, str], *, page_size: int = 500) -> list[Object]:
        return [
            obj
            for (obj_kind, obj_namespace, _), obj in self.objects.items()
            if obj_kind == kind
            and obj_namespace == namespace
            and labels.items() <= (obj["metadata"].get("labels") or {}).items()
        ]

    def apply(self, obj: Mapping[str, Any]) -> Object:
        stored: Object = json.loads(json.dumps(obj))
        self.add(stored)
        return stored

    def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> Object:
        return dict(obj) if dry_run else self.apply(obj)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        return self.objects.pop((kind, namespace, name), None) is not None

    def patch_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> Object:
        self.status = dict(status)
        return {"status": self.status}


def _parse_run(api: MemoryApi, name: str, finished: str, oldest_age: int) -> None:
    """A finished run of the parse CronJob: its Job, and its pod's termination message with the counts."""
    labels = {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": NAME,
        "app.kubernetes.io/component": PARSER,
    }
    api.add(
        {
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "labels": labels,
                "ownerReferences": [{"kind": "CronJob", "name": f"{NAME}-parse", "uid": "cronjob-uid"}],
            },
            "status": {
                "completionTime": finished,
                "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": finished}],
            },
        }
    )
    message = json.dumps({"claimed": 5, "written": 5, "rejected": 0, "oldest_buffered_age_seconds": oldest_age})
    api.add(
        {
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-x",
                "namespace": NAMESPACE,
                "labels": {**labels, "batch.kubernetes.io/job-name": name},
            },
            "status": {
                "containerStatuses": [{"name": "parser", "state": {"terminated": {"exitCode": 0, "message": message}}}]
            },
        }
    )


def _parser_ready(backlog_alert_age: int | None) -> dict[str, Any]:
    api = MemoryApi()
    # The backlog grows from 1,200 s to 2,000 s between the two runs: below the default 3600 s.
    _parse_run(api, "analytics-parse-1", "2026-01-01T10:00:00Z", 1200)
    _parse_run(api, "analytics-parse-2", "2026-01-01T10:05:00Z", 2000)
    parser = {} if backlog_alert_age is None else {"backlogAlertAge": backlog_alert_age}
    body = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "stack-uid", "generation": 1},
        "spec": {"database": {"managed": {}}, "parser": parser},
    }
    result = reconcile(api, body, NOW)
    assert api.status == result.status
    (condition,) = [c for c in result.status["conditions"] if c["type"] == ConditionType.PARSER_READY]
    return dict(condition)


@pytest.mark.parametrize(
    ("backlog_alert_age", "status", "reason"),
    [
        pytest.param(None, "True", Reason.PARSE_SUCCEEDED, id="default-3600-s"),
        pytest.param(1800, "False", Reason.BACKLOG_GROWING, id="1800-s"),
        pytest.param(2000, "True", Reason.PARSE_SUCCEEDED, id="at-the-threshold"),
        pytest.param(60, "False", Reason.BACKLOG_GROWING, id="60-s"),
    ],
)
def test_the_stacks_backlog_alert_age_sets_parser_ready(
    backlog_alert_age: int | None, status: str, reason: Reason
) -> None:
    condition = _parser_ready(backlog_alert_age)
    assert (condition["status"], condition["reason"]) == (status, reason), condition
    if reason == Reason.BACKLOG_GROWING:
        assert f"parser.backlogAlertAge, {backlog_alert_age} s" in condition["message"]
        assert "2000 s old" in condition["message"] and "was 1200 s" in condition["message"]
