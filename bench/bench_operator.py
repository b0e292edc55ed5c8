"""Benchmark of the operator's API traffic, on a real API server started for the run (etcd, kube-apiserver with
an audit log, kube-controller-manager; no kubelet), the operator running as its own process under the Helm
chart's ServiceAccount and Role. Every request the operator makes is counted in the API server's audit log, so
kopf's calls (watches, Events, its annotations) count as well as the controller's.

Prints, from one run:
- apply of a stack until every child exists: seconds (from the API server's own timestamps: the stack's creation
  to the operator's last child creation) and API calls, over several stacks (goal: under 2 s);
- steady state with --stacks stacks: API calls per minute per stack over a window of one resync interval
  (goal: at most 3), watch requests apart (they are per kind, not per stack), and the calls of one resync
  reconcile;
- the calls a finished parse run costs, and the steady state with one run every 5 minutes (the default schedule);
- the operator's resident memory (VmRSS) with those stacks.

    .venv/bin/python bench/bench_operator.py                       # 50 stacks, the operator's default resync
    .venv/bin/python bench/bench_operator.py --stacks 10 --resync 60  # quicker; rates at that interval
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from tests.support import k8s_assets
from tests.support.audited_control_plane import (
    AuditedControlPlane,
    Call,
    OperatorProcess,
    audited_control_plane,
    service_account_user,
)
from tests.support.helm_chart import crd_document
from tests.support.helm_cluster import install_crd
from tests.support.operator import admin_api, create_namespace, grant_chart_rbac, parse_run, wait_for

from georchestra_analytics.controller.context import DEFAULT_RESYNC_SECONDS
from georchestra_analytics.kube.apply import KubeApi
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.stack import KIND, parse_stack

REPO = Path(__file__).resolve().parents[1]
CHILD_KINDS = ("ConfigMap", "Secret", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "CronJob", "Job")
APPLY_GOAL_SECONDS = 2.0
STEADY_GOAL_PER_MINUTE = 3.0
PARSE_INTERVAL_SECONDS = 300  # the default spec.parser.schedule, */5 * * * *
PARSE_COUNTS = {"claimed": 100, "written": 98, "rejected": 2, "oldest_buffered_age_seconds": 30}


def _document(namespace: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text(encoding="utf-8"))
    document["metadata"].update(namespace=namespace, name=name)
    return document


def _expected_children(document: dict[str, Any]) -> int:
    stack = parse_stack({**document, "metadata": {**document["metadata"], "uid": "bench"}})
    return len(build_children(stack, rendered_inputs(stack)))


def _children(admin: KubeApi, namespace: str, name: str) -> int:
    return sum(len(admin.list(kind, namespace, {"app.kubernetes.io/instance": name})) for kind in CHILD_KINDS)


def _created(calls: list[Call], user: str | None = None) -> list[Call]:
    return [call for call in calls if call.status == 201 and (user is None or call.user == user)]


def measure_apply(
    plane: AuditedControlPlane, admin: KubeApi, namespace: str, user: str, samples: int
) -> list[tuple[float, int]]:
    """(seconds, operator calls) from each stack's creation to the operator's last child creation."""
    results = []
    for index in range(samples):
        name = f"apply-{index}"
        document = _document(namespace, name)
        expected = _expected_children(document)
        admin.apply(document)
        wait_for(
            lambda name=name, expected=expected: _children(admin, namespace, name) >= expected, f"{name}'s children", 60
        )
        calls = [call for call in plane.calls() if call.mentions(name)]
        (created,) = [call for call in _created(calls) if call.resource == "analyticsstacks" and call.user != user]
        children = [call for call in _created(calls, user) if call.resource != "analyticsstacks"]
        last = max(call.at for call in children)
        mine = [call for call in calls if call.user == user and created.at <= call.at <= last]
        results.append(((last - created.at).total_seconds(), len(mine)))
        time.sleep(1)  # the next stack alone: its own reconcile, not a burst
    return results


def measure_parse_run(plane: AuditedControlPlane, admin: KubeApi, namespace: str, user: str, name: str) -> int:
    """Operator calls for one finished parse run of a stack (a Job of its CronJob, its pod terminated with the
    run's counts, as the CronJob controller and the kubelet would make them)."""
    cronjob = admin.get("CronJob", namespace, f"{name}-parse")
    assert cronjob is not None
    started = plane.calls()[-1].at
    job = parse_run(admin, cronjob, json.dumps(PARSE_COUNTS), succeeded=True, controllers=plane.with_controller_manager)
    wait_for(
        lambda: (
            ((admin.get(KIND, namespace, name) or {}).get("status") or {}).get("lastParse", {}).get("jobName") == job
        ),
        "status.lastParse",
        60,
    )
    time.sleep(2)  # anything the run set off besides
    return len([call for call in plane.calls(user=user, since=started) if call.verb != "watch" and call.mentions(name)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", type=int, default=50, help="stacks in the steady-state phase")
    parser.add_argument("--apply-samples", type=int, default=5, help="stacks timed one by one")
    parser.add_argument("--resync", type=float, default=DEFAULT_RESYNC_SECONDS, help="the operator's interval")
    parser.add_argument("--window", type=float, default=None, help="steady-state window, seconds (default: resync)")
    parser.add_argument("--operator-log", type=Path, help="keep the operator's log in this file")
    parser.add_argument("--log-level", default="INFO", help="the operator's log level")
    options = parser.parse_args(argv)
    window = options.window or options.resync
    helm = k8s_assets.ensure_helm().paths[k8s_assets.HELM]
    with audited_control_plane() as plane, tempfile.TemporaryDirectory() as folder:
        admin = admin_api(plane.kubeconfig)
        install_crd(admin.client, crd_document())
        namespace, operator_namespace = "bench-stacks", "bench-operator"
        create_namespace(admin, namespace)
        create_namespace(admin, operator_namespace)
        account = grant_chart_rbac(admin, helm, operator_namespace, [namespace])
        kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
        user = service_account_user(operator_namespace, account)
        log_file = options.operator_log or Path(folder) / "operator.log"
        operator = OperatorProcess(kubeconfig, [namespace], log_file, options.resync, options.log_level)
        operator.start()
        try:
            wait_for(lambda: any(call.user == user for call in plane.calls()), "the operator's first call", 60)
            time.sleep(2)
            applied = measure_apply(plane, admin, namespace, user, options.apply_samples)
            parse_calls = measure_parse_run(plane, admin, namespace, user, "apply-0")

            for index in range(options.stacks - options.apply_samples):
                admin.apply(_document(namespace, f"steady-{index}"))
            wait_for(
                lambda: all(
                    (stack.get("status") or {}).get("observedGeneration") for stack in admin.list(KIND, namespace, {})
                ),
                "every stack's first status",
                600,
            )
            time.sleep(10)  # the events of the first reconciles (controllers filling in statuses) die down
            stacks = len(admin.list(KIND, namespace, {}))
            started = plane.calls()[-1].at
            time.sleep(window)
            calls = [
                call for call in plane.calls(user=user) if started < call.at <= started + timedelta(seconds=window)
            ]
            rss = operator.rss_kib()
        finally:
            code = operator.stop()
    watches = [call for call in calls if call.verb == "watch"]
    others = [call for call in calls if call.verb != "watch"]
    reads = [call for call in others if call.verb == "get" and call.resource == "analyticsstacks"]
    per_minute = len(others) / (window / 60) / stacks
    per_reconcile = len(others) / len(reads) if reads else 0.0
    seconds = [value for value, _ in applied]
    print(f"operator exit code {code}; resync interval {options.resync:.0f} s; window {window:.0f} s")
    print(
        f"apply to all children created: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
        f"over {len(seconds)} stacks (goal < {APPLY_GOAL_SECONDS:.0f} s); operator calls per apply: "
        f"median {statistics.median(calls for _, calls in applied):.0f}"
    )
    print(
        f"steady state, {stacks} stacks: {len(others)} calls in {window:.0f} s = {per_minute:.2f} calls/min/stack "
        f"(goal <= {STEADY_GOAL_PER_MINUTE:.0f}); {len(reads)} reconciles, {per_reconcile:.1f} calls each; "
        f"{len(watches)} watch requests (per kind, not per stack)"
    )
    print(
        "steady-state calls by verb and resource: "
        + ", ".join(
            f"{verb} {resource} {count}"
            for (verb, resource), count in Counter((c.verb, c.resource) for c in others).most_common()
        )
    )
    runs_per_minute = 60 / PARSE_INTERVAL_SECONDS
    print(
        f"a finished parse run: {parse_calls} operator calls; with a run every {PARSE_INTERVAL_SECONDS // 60} min "
        f"(the default schedule) steady state is {per_minute:.2f} + {parse_calls * runs_per_minute:.2f} = "
        f"{per_minute + parse_calls * runs_per_minute:.2f} calls/min/stack"
    )
    print(f"operator RSS with {stacks} stacks: {rss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
