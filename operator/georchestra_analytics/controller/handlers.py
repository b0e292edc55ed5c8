"""The kopf handlers, a few lines each: every trigger runs the same reconcile (docs/architecture.md, control plane).

- create, update and resume (operator restart) of a stack: reconciled at once (kopf retries a failure);
- one resync loop over kopf's index of live stacks (controller/resync.py): every stack again each resync
  interval, sooner after a failure or when an event below asks for it;
- an event on a child (ConfigMap, Secret, Service, NetworkPolicy, Deployment, StatefulSet, CronJob, Job; the
  watches select the operator's labels on the server) that changes what the status depends on, or that someone
  else made (controller/triggers.py): a finished Job, a ready collector, a hand edit or deletion;
- an event on a Secret a stack references (found through an index of the stacks): a rotated password rolls the
  pods that read it, through their checksum annotation.
No deletion handler, no timer, no daemon, hence no finalizer: every child is owned through ownerReferences and
goes with the stack, nothing outside the cluster needs cleaning up, and a stack leaves the resync loop when it
leaves kopf's index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from georchestra_analytics.controller import metrics
from georchestra_analytics.controller.connection import connection_info
from georchestra_analytics.controller.context import ControllerContext
from georchestra_analytics.controller.events import event_object, transition_events
from georchestra_analytics.controller.memory import StackKey
from georchestra_analytics.controller.reconcile import (
    ReconcileResult,
    reconcile,
    reconcile_parse_runs,
    report_error,
)
from georchestra_analytics.controller.resync import RETRY_SECONDS, resync_loop
from georchestra_analytics.controller.secrets import referenced_names
from georchestra_analytics.controller.triggers import is_parse_run, matters
from georchestra_analytics.kube.apply import KubeError
from georchestra_analytics.kube.naming import INSTANCE_LABEL, OPERATOR_LABELS
from georchestra_analytics.stack.resource import GROUP, KIND, PLURAL, VERSION, InvalidStackError, parse_stack

log = logging.getLogger(__name__)

# The children the operator watches: (kind, API group/version, plural).
CHILD_RESOURCES = (
    ("ConfigMap", "v1", "configmaps"),
    ("Service", "v1", "services"),
    ("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    ("Deployment", "apps/v1", "deployments"),
    ("StatefulSet", "apps/v1", "statefulsets"),
    ("CronJob", "batch/v1", "cronjobs"),
    ("Job", "batch/v1", "jobs"),
)
Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]
OWNED_SELECTOR = ",".join(f"{key}={value}" for key, value in OPERATOR_LABELS.items())


def _post(context: ControllerContext, body: Mapping[str, Any], result: ReconcileResult, logger: Logger) -> None:
    """An Event for each condition transition; best effort (the status already says it all)."""
    now = datetime.now(UTC)
    for event in transition_events(result.transitions):
        try:
            context.api.create(event_object(body, event, now))
        except KubeError as error:
            logger.warning("could not post the Event %s: %s", event.reason, error)


def run_reconcile(context: ControllerContext, key: StackKey, trigger: str, logger: Logger) -> None:
    """Reconcile one stack, post Events for condition transitions, count it. API errors are written to the
    status (Ready=False, ReconcileError) and raised again as kopf.TemporaryError (kopf retries its create,
    update and resume handlers; the resync loop retries the rest)."""
    namespace, name = key
    started = time.monotonic()
    metrics.RECONCILES.labels(trigger).inc()
    with context.lock(namespace, name):
        now = datetime.now(UTC)
        fresh: kopf.Body | None = None
        try:
            # The latest stack, not kopf's copy: another trigger may have written the status meanwhile, and
            # conditions must merge into what is there now (or Events would repeat).
            raw = context.api.get(KIND, namespace, name)
            if raw is None or raw["metadata"].get("deletionTimestamp"):
                return
            fresh = kopf.Body(cast(kopf.RawBody, raw))
            uid = raw["metadata"].get("uid")
            result = reconcile(
                context.api,
                fresh,
                now,
                context.options,
                last_pruned=context.memory.pruned(key, uid),
                created=trigger == "create",
            )
            # Remembered before the lock is released: the watch events of these very writes then find their
            # digests and trigger nothing (controller/triggers.py).
            context.memory.remember_children(key, uid, result.observed)
            if result.pruned:
                context.memory.remember_pruned(key, uid, result.wanted)
        except KubeError as error:
            metrics.RECONCILE_ERRORS.labels(trigger).inc()
            # When the API itself is failing, the status cannot be written either: the retry will.
            if fresh is not None:
                with contextlib.suppress(KubeError):
                    _post(context, fresh, report_error(context.api, fresh, error, now), logger)
            raise kopf.TemporaryError(str(error), delay=RETRY_SECONDS) from None
        finally:
            metrics.RECONCILE_SECONDS.labels(trigger).observe(time.monotonic() - started)
    metrics.CHILDREN_APPLIED.inc(len(result.applied))
    metrics.CHILDREN_DELETED.inc(len(result.deleted))
    metrics.observe_stack(namespace, name, result.status)
    _post(context, fresh, result, logger)
    if result.deleted:
        logger.info("removed superseded children: %s", ", ".join(result.deleted))
    logger.debug(
        "%s reconcile: %d children applied, phase %s", trigger, len(result.applied), result.status.get("phase")
    )


def run_parse_refresh(context: ControllerContext, key: StackKey, logger: Logger) -> None:
    """A parse run finished: only ParserReady, Ready, the phase and lastParse are brought up to date (a few
    calls); when that is not enough, or the API fails, a full reconcile is scheduled instead."""
    namespace, name = key
    started = time.monotonic()
    metrics.RECONCILES.labels("parse").inc()
    result: ReconcileResult | None = None
    try:
        with context.lock(namespace, name):
            raw = context.api.get(KIND, namespace, name)
            if raw is None or raw["metadata"].get("deletionTimestamp"):
                return
            fresh = kopf.Body(cast(kopf.RawBody, raw))
            result = reconcile_parse_runs(context.api, fresh, datetime.now(UTC), context.options)
    except KubeError as error:
        metrics.RECONCILE_ERRORS.labels("parse").inc()
        logger.warning("status update after a parse run of %s/%s failed: %s", namespace, name, error)
    finally:
        metrics.RECONCILE_SECONDS.labels("parse").observe(time.monotonic() - started)
    if result is None:
        context.schedule.soon(key, time.monotonic())
        return
    metrics.observe_stack(namespace, name, result.status)
    _post(context, fresh, result, logger)


def _resync(context: ControllerContext, key: StackKey) -> bool:
    """One reconcile of the resync loop: whether it succeeded (a failure is retried sooner)."""
    try:
        run_reconcile(context, key, "resync", log)
    except kopf.TemporaryError as error:
        log.warning("reconcile of %s/%s failed, retried in %.0f s: %s", *key, RETRY_SECONDS, error)
        return False
    except Exception:  # a bug must not stop the loop for every other stack
        log.exception("reconcile of %s/%s failed", *key)
        return False
    return True


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
    def changed(namespace: str | None, name: str, reason: str, logger: kopf.Logger, **_: Any) -> None:
        run_reconcile(context, (str(namespace), name), str(reason), logger)

    @kopf.index(*resource, id="live_stacks", registry=registry)
    def live_stacks(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[StackKey, str]:
        # A stack being deleted (foreground deletion keeps it a while) is no longer reconciled.
        if body.metadata.get("deletionTimestamp"):
            return {}
        return {(str(namespace), name): str(body.metadata.get("uid") or "")}

    @kopf.index(*resource, id="stacks_by_secret", registry=registry)
    def stacks_by_secret(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> dict[StackKey, str]:
        try:
            stack = parse_stack(body)
        except InvalidStackError:
            return {}
        return {(str(namespace), secret): name for secret in referenced_names(stack)}

    @kopf.on.startup(id="resync", registry=registry)
    async def start_resync(**kwargs: Any) -> None:
        index: kopf.Index[StackKey, str] = kwargs["live_stacks"]

        def live() -> list[StackKey]:
            keys = list(index)
            for gone in context.memory.retain(keys):
                metrics.forget_stack(*gone)  # a deleted stack's backlog must not look ever older to the alerts
            return keys

        def one(key: StackKey) -> bool:
            return _resync(context, key)

        context.resync_task = asyncio.create_task(
            resync_loop(context.schedule, live, one, clock=time.monotonic), name="resync loop"
        )

    @kopf.on.cleanup(id="resync", registry=registry)
    async def stop_resync(**_: Any) -> None:
        task, context.resync_task = context.resync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @kopf.on.event("v1", "secrets", id="secret_changed", registry=registry)
    def secret_changed(namespace: str | None, name: str, body: kopf.Body, type: str | None, **kwargs: Any) -> None:
        by_secret: kopf.Index[StackKey, str] = kwargs["stacks_by_secret"]
        stacks: kopf.Index[StackKey, str] = kwargs["live_stacks"]
        owned_by = body.metadata.labels.get(INSTANCE_LABEL) if _owned(body.metadata.labels) else None
        for stack_name in sorted(set(by_secret.get((str(namespace), name), []))):
            key = (str(namespace), stack_name)
            if key not in stacks or type is None:
                continue  # a stack that is gone; kopf's initial listing (every stack gets its resume reconcile)
            if stack_name == owned_by and not _child_matters(context, key, "Secret", body, type):
                continue  # a Secret the operator generated and just wrote itself
            context.schedule.soon(key, time.monotonic())

    for kind, group_version, plural in CHILD_RESOURCES:

        @kopf.on.event(
            group_version, plural, id=f"{plural}_changed", labels=_OWNED_LABELS, param=kind, registry=registry
        )
        def child_changed(
            namespace: str | None, body: kopf.Body, type: str | None, param: Any = None, **kwargs: Any
        ) -> None:
            stacks: kopf.Index[StackKey, str] = kwargs["live_stacks"]
            key = (str(namespace), str(body.metadata.labels.get(INSTANCE_LABEL) or ""))
            # Children of a stack that is gone (the garbage collector removing them) call nothing.
            if key not in stacks or not _owned_by_live(body, stacks[key]):
                return
            if not _child_matters(context, key, str(param), body, type):
                return
            if param == "Job" and type != "DELETED" and is_parse_run(body):
                run_parse_refresh(context, key, log)  # a parse run finished: only the parser's status
            else:
                context.schedule.soon(key, time.monotonic())

    return registry


_OWNED_LABELS = OPERATOR_LABELS


def _owned(labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in _OWNED_LABELS.items())


def _owned_by_live(body: kopf.Body, uids: Any) -> bool:
    """The child is the live stack's (its owner's uid is in the index), or a parse run of its CronJob."""
    owners = body.metadata.get("ownerReferences") or []
    live = {str(uid) for uid in uids}
    return any(owner.get("uid") in live or owner.get("kind") == "CronJob" for owner in owners)


def _child_matters(context: ControllerContext, key: StackKey, kind: str, body: kopf.Body, type: str | None) -> bool:
    # Under the stack's lock: a reconcile writing this child records its digest before letting go.
    with context.lock(*key):
        remembered = context.memory.child(key, body.metadata.get("uid"))
        result = matters(type, kind, body, remembered)
        context.memory.remember_child(key, kind, body, deleted=type == "DELETED")
    return result


def configure_settings(settings: kopf.OperatorSettings, *, namespaced: bool) -> None:
    """kopf's bookkeeping in annotations of our own prefix (the status belongs to the controller), no peering,
    in namespaced mode no cluster-wide scanning (the RBAC grants no CRD or namespace watch there), and watches
    of children filtered by the operator's labels on the server."""
    prefix = "analytics.georchestra.org"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{prefix}/kopf-finalizer"  # never added: no handler needs one
    settings.peering.standalone = True
    settings.peering.mandatory = False
    settings.posting.level = logging.INFO
    settings.scanning.disabled = namespaced
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    # kopf's own calls (status patches, Events, its annotations) bounded like ours (kube/apply.py).
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
    for _kind, group_version, plural in CHILD_RESOURCES:
        settings.watching.label_selectors[group_version, plural] = OWNED_SELECTOR
    if not namespaced:
        # Cluster-wide, only the Secrets the operator generates are watched (a user's Secret that a stack
        # references is read again at each resync); namespaced, every Secret of the watched namespaces is, and
        # a rotation of a referenced one reaches the pods at once.
        settings.watching.label_selectors["v1", "secrets"] = OWNED_SELECTOR
