"""The kopf handlers, a few lines each: every trigger runs the same reconcile.

- create, update and resume (operator restart) of a stack;
- a timer every resync interval: children edited or deleted by hand are restored, Job outcomes reach the status;
- an event on a Secret a stack references (found through an index of the stacks): a rotated password rolls the
  pods that read it, through their checksum annotation;
- an event on a child Job, Deployment or StatefulSet: a finished Job or a ready collector reaches the status at
  once.
No deletion handler and hence no finalizer: every child is owned through ownerReferences and goes with the
stack; nothing outside the cluster needs cleaning up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from georchestra_analytics.controller import metrics
from georchestra_analytics.controller.connection import connection_info
from georchestra_analytics.controller.context import ControllerContext
from georchestra_analytics.controller.events import transition_events
from georchestra_analytics.controller.reconcile import ReconcileResult, reconcile, report_error
from georchestra_analytics.controller.secrets import referenced_names
from georchestra_analytics.kube.apply import KubeError
from georchestra_analytics.kube.naming import APP_NAME, MANAGED_BY
from georchestra_analytics.stack.resource import GROUP, KIND, PLURAL, VERSION, InvalidStackError, parse_stack

RETRY_DELAY_SECONDS = 15


def _post(body: kopf.Body, result: ReconcileResult) -> None:
    for event in transition_events(result.transitions):
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def run_reconcile(context: ControllerContext, body: kopf.Body, trigger: str, logger: kopf.Logger) -> None:
    """Reconcile one stack, post Events for condition transitions, count it. API errors are written to the
    status (Ready=False, ReconcileError) and raised again for kopf to retry."""
    meta = body["metadata"]
    started = time.monotonic()
    metrics.RECONCILES.labels(trigger).inc()
    with context.lock(meta["namespace"], meta["name"]):
        now = datetime.now(UTC)
        fresh: kopf.Body | None = None
        try:
            # The latest stack, not kopf's copy: another trigger may have written the status meanwhile, and
            # conditions must merge into what is there now (or Events would repeat).
            raw = context.api.get(KIND, meta["namespace"], meta["name"])
            if raw is None:
                return
            fresh = kopf.Body(cast(kopf.RawBody, raw))
            result = reconcile(context.api, fresh, now, context.options)
        except KubeError as error:
            metrics.RECONCILE_ERRORS.labels(trigger).inc()
            # When the API itself is failing, kopf logs the error and retries.
            if fresh is not None:
                with contextlib.suppress(KubeError):
                    _post(fresh, report_error(context.api, fresh, error, now))
            raise kopf.TemporaryError(str(error), delay=RETRY_DELAY_SECONDS) from None
        finally:
            metrics.RECONCILE_SECONDS.labels(trigger).observe(time.monotonic() - started)
    metrics.CHILDREN_APPLIED.inc(len(result.applied))
    metrics.CHILDREN_DELETED.inc(len(result.deleted))
    _post(fresh, result)
    if result.deleted:
        logger.info("removed superseded children: %s", ", ".join(result.deleted))
    logger.debug(
        "%s reconcile: %d children applied, phase %s", trigger, len(result.applied), result.status.get("phase")
    )


def build_registry(context: ControllerContext) -> kopf.OperatorRegistry:
    """A registry of the operator's handlers, bound to one context (tests run several operators in a row)."""
    registry = kopf.OperatorRegistry()
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.login(id="login", registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(context.configuration)

    @kopf.on.resume(*resource, id="reconcile", registry=registry)
    @kopf.on.create(*resource, id="reconcile", registry=registry)
    @kopf.on.update(*resource, id="reconcile", registry=registry)
    def changed(body: kopf.Body, reason: str, logger: kopf.Logger, **_: Any) -> None:
        run_reconcile(context, body, str(reason), logger)

    @kopf.timer(
        *resource, id="resync", interval=context.resync_seconds, initial_delay=context.resync_seconds, registry=registry
    )
    def resync(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        run_reconcile(context, body, "resync", logger)

    @kopf.index(*resource, id="stacks_by_secret", registry=registry)
    def stacks_by_secret(
        body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> dict[tuple[str | None, str], str]:
        try:
            stack = parse_stack(body)
        except InvalidStackError:
            return {}
        return {(namespace, secret): name for secret in referenced_names(stack)}

    @kopf.on.event("v1", "secrets", id="secret_changed", registry=registry)
    def secret_changed(namespace: str | None, name: str, logger: kopf.Logger, **kwargs: Any) -> None:
        index: kopf.Index[tuple[str | None, str], str] = kwargs["stacks_by_secret"]
        for stack_name in sorted(set(index.get((namespace, name), []))):
            stack = {"metadata": {"namespace": namespace, "name": stack_name}}
            run_reconcile(context, kopf.Body(cast(kopf.RawBody, stack)), "secret", logger)

    # A Job finishing or a workload becoming ready reaches the status at once, not at the next resync.
    owned = {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/name": APP_NAME}
    for group_version, plural in (("batch/v1", "jobs"), ("apps/v1", "deployments"), ("apps/v1", "statefulsets")):

        @kopf.on.event(group_version, plural, id=f"{plural}_changed", labels=owned, registry=registry)
        def child_changed(namespace: str | None, labels: Mapping[str, str], logger: kopf.Logger, **_: Any) -> None:
            stack_name = labels.get("app.kubernetes.io/instance")
            if stack_name:
                stack = {"metadata": {"namespace": namespace, "name": stack_name}}
                run_reconcile(context, kopf.Body(cast(kopf.RawBody, stack)), "child", logger)

    _timers_without_finalizer(registry)
    return registry


def _timers_without_finalizer(registry: kopf.OperatorRegistry) -> None:
    """kopf guards every timer with a finalizer on its object, so deleting a stack would wait for the operator
    (and hang while the operator is down). Nothing outside the cluster needs cleaning up, and a resync of a stack
    that is already gone does nothing, so the resync timer runs without one. (kopf offers no public switch for
    this; a unit test fails if its registry changes shape.)"""
    spawning = registry._spawning
    spawning._handlers = [dataclasses.replace(handler, requires_finalizer=False) for handler in spawning._handlers]


def configure_settings(settings: kopf.OperatorSettings, *, namespaced: bool) -> None:
    """kopf's bookkeeping in annotations of our own prefix (the status belongs to the controller), no peering,
    and in namespaced mode no cluster-wide scanning (the RBAC grants no CRD or namespace watch there)."""
    prefix = "analytics.georchestra.org"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{prefix}/kopf-finalizer"  # unused: there is no deletion handler
    settings.peering.standalone = True
    settings.peering.mandatory = False
    settings.posting.level = logging.INFO
    settings.scanning.disabled = namespaced
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    # kopf's own calls (status patches, Events, its annotations) bounded like ours (kube/apply.py).
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
