"""One reconcile of an AnalyticsStack: desired children from the pure builders, applied; superseded children
removed; conditions observed from what the children report; status written.

The same function serves creation, spec updates, the operator's restart, the drift timer and Secret rotations:
it always computes the whole desired state, and server-side apply makes an unchanged child a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from georchestra_analytics.controller.conditions import ConditionState, Transition, find, merge_conditions
from georchestra_analytics.controller.jobs import (
    JobOutcome,
    ParserHealth,
    ParseRun,
    dashboards_condition,
    job_outcome,
    last_parse,
    parse_runs,
    parser_condition,
    schema_condition,
    schema_version,
)
from georchestra_analytics.controller.secrets import (
    SecretCheck,
    check_secrets,
    data_checksum,
    generated_password,
    generated_role_passwords,
    holds_every_role_password,
    with_encoded_data,
)
from georchestra_analytics.controller.status import (
    collector_condition,
    database_condition,
    endpoints,
    phase,
    ready_condition,
    suspended_condition,
)
from georchestra_analytics.kube.apply import KubeApi, Object
from georchestra_analytics.kube.children import build_children
from georchestra_analytics.kube.database import database_secret
from georchestra_analytics.kube.database_access import roles_secret, roles_secret_name
from georchestra_analytics.kube.inputs import rendered_inputs
from georchestra_analytics.kube.naming import (
    COMPONENT_LABEL,
    MIGRATE,
    PARSER,
    SUPERSET_SYNC,
    database_name,
    database_secret_name,
    owned_labels,
    parse_cronjob_name,
    selector_labels,
)
from georchestra_analytics.kube.parse_cronjob import parse_cronjob
from georchestra_analytics.stack.durations import duration_hours
from georchestra_analytics.stack.resource import KIND, AnalyticsStack, InvalidStackError, parse_stack
from georchestra_analytics.stack.status import ConditionType, Phase, Reason

# Kinds of children removed when the spec no longer asks for them. Secrets are never removed by the operator
# (the managed database's password must outlive a switch to an external database and back, with its volume),
# nor PersistentVolumeClaims (data is only deleted by the StatefulSet's retention policy, when asked).
PRUNED_KINDS = ("ConfigMap", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "CronJob", "Job")


@dataclass(frozen=True)
class ReconcileOptions:
    parser_health: ParserHealth = field(default_factory=ParserHealth)


@dataclass
class ReconcileResult:
    status: dict[str, Any]
    transitions: list[Transition]
    applied: list[str] = field(default_factory=list)
    """Children sent to the API server (kind/name), in order."""
    deleted: list[str] = field(default_factory=list)
    """Superseded children removed."""
    status_changed: bool = False
    wanted: frozenset[str] = frozenset()
    """The desired children of the kinds that are pruned (kind/name)."""
    pruned: bool = False
    """Whether superseded children were looked for (only when `wanted` differs from the last pruned set)."""
    observed: list[Object] = field(default_factory=list)
    """Children as the API server returned them (apply answers, existing Jobs)."""


def _key(obj: Mapping[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _stack_labels(stack: AnalyticsStack, component: str | None = None) -> dict[str, str]:
    return owned_labels(stack, component)


def _owned_by(obj: Mapping[str, Any], uid: str | None) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return uid is not None and any(owner.get("uid") == uid for owner in owners)


def resync_round(stack: AnalyticsStack, now: datetime) -> int:
    """The number of superset resyncInterval periods since the epoch: a new round gives a new sync Job."""
    superset = stack.spec.superset
    if superset is None:
        return 0
    hours = duration_hours(superset.resync_interval) or 0
    return int(now.timestamp() // (hours * 3600)) if hours else 0


class _Observation:
    """Children as the API server returned them after apply, looked up by kind and name."""

    def __init__(self) -> None:
        self.objects: dict[str, Object] = {}

    def add(self, obj: Object) -> None:
        self.objects[_key(obj)] = obj

    def get(self, kind: str, name: str) -> Object | None:
        return self.objects.get(f"{kind}/{name}")


def _desired_children(api: KubeApi, stack: AnalyticsStack, now: datetime) -> tuple[list[dict[str, Any]], SecretCheck]:
    """The children to apply, and what the check of the referenced Secrets found."""
    namespace = stack.namespace
    check = check_secrets(stack, lambda name: api.get("Secret", namespace, name))
    checksums = dict(check.checksums)
    password: str | None = None
    if stack.spec.database.managed is not None:
        password = generated_password(api.get("Secret", namespace, database_secret_name(stack)))
        checksums[database_secret_name(stack)] = data_checksum(with_encoded_data(database_secret(stack, password)))
    stored_roles = api.get("Secret", namespace, roles_secret_name(stack))
    role_passwords = generated_role_passwords(stored_roles)
    checksums[roles_secret_name(stack)] = data_checksum(with_encoded_data(roles_secret(stack, role_passwords)))
    inputs = rendered_inputs(
        stack,
        secret_checksums=checksums,
        database_password=password,
        role_passwords=role_passwords,
        superset_resync_round=resync_round(stack, now),
    )
    children = [
        with_encoded_data(child) if child["kind"] == "Secret" else child for child in build_children(stack, inputs)
    ]
    if holds_every_role_password(stored_roles):
        children = [child for child in children if _key(child) != f"Secret/{roles_secret_name(stack)}"]
    return children, check


def _apply(api: KubeApi, children: list[dict[str, Any]], result: ReconcileResult) -> _Observation:
    seen = _Observation()
    for child in children:
        meta = child["metadata"]
        if child["kind"] == "Job":
            # A Job is never changed in place (its template is immutable): an existing one is kept as it is.
            existing = api.get("Job", meta["namespace"], meta["name"])
            if existing is not None:
                seen.add(existing)
                continue
        seen.add(api.apply(child))
        result.applied.append(_key(child))
    return seen


def _prune(api: KubeApi, stack: AnalyticsStack, children: list[dict[str, Any]], result: ReconcileResult) -> None:
    wanted = {_key(child) for child in children}
    for kind in PRUNED_KINDS:
        for obj in api.list(kind, stack.namespace, _stack_labels(stack)):
            obj = {**obj, "kind": kind}
            # Only the stack's own children: a parse run's Job belongs to the CronJob, not to the stack.
            superseded = _key(obj) not in wanted and _owned_by(obj, stack.metadata.uid)
            if superseded and api.delete(kind, stack.namespace, obj["metadata"]["name"]):
                result.deleted.append(_key(obj))


def _selector(stack: AnalyticsStack, component: str) -> dict[str, str]:
    # Pods carry only the selector labels (not managed-by): select them with those.
    return selector_labels(stack, component)


def _outcome(api: KubeApi, stack: AnalyticsStack, seen: _Observation, component: str, name: str) -> JobOutcome | None:
    job = seen.get("Job", name)
    if job is None:
        return None
    pods = api.list("Pod", stack.namespace, {**_selector(stack, component), "batch.kubernetes.io/job-name": name})
    return job_outcome(job, pods)


def _parse_runs(api: KubeApi, stack: AnalyticsStack) -> list[ParseRun]:
    """The finished parse runs, newest first: Jobs the parse CronJob created, and their pods."""
    namespace = stack.namespace
    parse_jobs = [
        job
        for job in api.list("Job", namespace, _selector(stack, PARSER))
        if any(owner.get("kind") == "CronJob" for owner in job["metadata"].get("ownerReferences") or [])
    ]
    return parse_runs(parse_jobs, api.list("Pod", namespace, _selector(stack, PARSER)) if parse_jobs else [])


def _observe(
    api: KubeApi,
    stack: AnalyticsStack,
    children: list[dict[str, Any]],
    seen: _Observation,
    problems: Mapping[ConditionType, ConditionState],
    options: ReconcileOptions,
    previous_conditions: Sequence[Mapping[str, Any]],
) -> tuple[list[ConditionState], dict[str, Any]]:
    """Conditions (Ready last) and the status fields besides them."""
    by_component: dict[str, dict[str, Any]] = {}
    for child in children:
        by_component.setdefault(child["metadata"]["labels"][COMPONENT_LABEL] + "/" + child["kind"], child)

    migrate_job = by_component[f"{MIGRATE}/Job"]["metadata"]["name"]
    migration = _outcome(api, stack, seen, MIGRATE, migrate_job)
    schema = schema_condition(migrate_job, migration)

    database = problems.get(ConditionType.DATABASE_READY) or database_condition(
        stack, seen.get("StatefulSet", database_name(stack)), schema
    )
    workload = by_component.get("collector/Deployment") or by_component["collector/StatefulSet"]
    collector = collector_condition(stack, seen.get(workload["kind"], workload["metadata"]["name"]))

    runs = _parse_runs(api, stack)
    parser = problems.get(ConditionType.PARSER_READY) or parser_condition(
        runs, options.parser_health, parse_cronjob_name(stack), backlog_alert_age=stack.spec.parser.backlog_alert_age
    )

    sync_child = by_component.get(f"{SUPERSET_SYNC}/Job")
    sync_name = None if sync_child is None else str(sync_child["metadata"]["name"])
    sync = None if sync_name is None else _outcome(api, stack, seen, SUPERSET_SYNC, sync_name)
    synced = find(previous_conditions, ConditionType.DASHBOARDS_SYNCED)
    was_synced = synced is not None and synced.get("status") == "True"
    dashboards = problems.get(ConditionType.DASHBOARDS_SYNCED) or dashboards_condition(
        sync_name, sync, was_synced=was_synced
    )

    states = [database, schema, collector, parser, dashboards, suspended_condition(False)]
    states.insert(0, ready_condition(states))
    fields: dict[str, Any] = {
        "endpoints": endpoints(stack),
        "migrationJob": migrate_job,
        "schemaVersion": schema_version(migration),
    }
    if runs:  # with no run left (all deleted), the last one reported stays in the status
        fields["lastParse"] = last_parse(runs[0])
    if sync is not None and sync.succeeded and sync.finished_at is not None:
        fields["lastDashboardsSync"] = sync.finished_at.isoformat().replace("+00:00", "Z")
    return states, fields


def _write_status(
    api: KubeApi,
    body: Mapping[str, Any],
    states: list[ConditionState],
    fields: Mapping[str, Any],
    phase_value: Phase,
    now: datetime,
    result: ReconcileResult,
) -> None:
    meta = body["metadata"]
    previous = dict(body.get("status") or {})
    generation = meta.get("generation")
    conditions, transitions = merge_conditions(previous.get("conditions") or [], states, generation, now)
    status: dict[str, Any] = {
        **{key: previous.get(key) for key in ("endpoints", "migrationJob", "schemaVersion", "lastParse")},
        **{key: value for key, value in previous.items() if key == "lastDashboardsSync"},
        **fields,
        "observedGeneration": generation,
        "phase": phase_value.value,
        "conditions": conditions,
    }
    # Keep a schema version reported earlier when this Job did not report one.
    if status.get("schemaVersion") is None and previous.get("schemaVersion"):
        status["schemaVersion"] = previous["schemaVersion"]
    status = {key: value for key, value in status.items() if value is not None}
    result.status = status
    result.transitions = transitions
    ours = {key: previous.get(key) for key in status}
    if ours != status or any(key not in status for key in previous if key in _STATUS_KEYS):
        patch = {**{key: None for key in previous if key in _STATUS_KEYS and key not in status}, **status}
        api.patch_status(KIND, str(meta["namespace"]), str(meta["name"]), patch)
        result.status_changed = True


_STATUS_KEYS = frozenset(
    {
        "observedGeneration",
        "phase",
        "conditions",
        "endpoints",
        "schemaVersion",
        "migrationJob",
        "lastParse",
        "lastDashboardsSync",
    }
)


def _previous_schema_ready(body: Mapping[str, Any]) -> bool:
    condition = find((body.get("status") or {}).get("conditions") or [], ConditionType.SCHEMA_READY)
    return condition is not None and condition.get("status") == "True"


def reconcile_suspended(api: KubeApi, stack: AnalyticsStack, body: Mapping[str, Any], now: datetime) -> ReconcileResult:
    """A suspended stack: the parse CronJob is suspended (so nothing is parsed or written), every other child is
    left exactly as it is, and the Suspended condition says so."""
    result = ReconcileResult(status={}, transitions=[])
    cronjob = parse_cronjob(stack)
    if api.get("CronJob", stack.namespace, cronjob["metadata"]["name"]) is not None:
        api.apply(cronjob)
        result.applied.append(_key(cronjob))
    states = [
        ConditionState(
            ConditionType.READY, "False", Reason.SUSPENDED_BY_SPEC, "the stack is suspended (spec.suspend: true)"
        ),
        suspended_condition(True),
    ]
    _write_status(api, body, states, {}, Phase.SUSPENDED, now, result)
    return result


def reconcile(
    api: KubeApi,
    body: Mapping[str, Any],
    now: datetime,
    options: ReconcileOptions | None = None,
    *,
    last_pruned: frozenset[str] | None = None,
    created: bool = False,
) -> ReconcileResult:
    """Bring the stack's children to the desired state and report it in the status. API errors propagate to
    the caller, which reports them (report_error) and retries. Superseded children are looked for (seven LISTs)
    only when the desired set of pruned kinds differs from `last_pruned`, the set wanted at the last prune (None:
    unknown, as after a restart), and never for a stack just `created` (nothing can be owned by its uid yet)."""
    options = options or ReconcileOptions()
    result = ReconcileResult(status={}, transitions=[])
    try:
        stack = parse_stack(body)
    except InvalidStackError as error:
        state = ConditionState(ConditionType.READY, "False", Reason.INVALID_SPEC, f"invalid spec: {error}")
        _write_status(api, body, [state], {}, Phase.FAILED, now, result)
        return result
    if stack.spec.suspend:
        return reconcile_suspended(api, stack, body, now)
    children, check = _desired_children(api, stack, now)
    seen = _apply(api, children, result)
    result.observed = list(seen.objects.values())
    result.wanted = frozenset(_key(child) for child in children if child["kind"] in PRUNED_KINDS)
    if result.wanted != last_pruned:
        if not created:
            _prune(api, stack, children, result)
        result.pruned = True
    previous_conditions = (body.get("status") or {}).get("conditions") or []
    states, fields = _observe(api, stack, children, seen, check.problems, options, previous_conditions)
    schema_ready = _previous_schema_ready(body) or any(
        state.type == ConditionType.SCHEMA_READY and state.is_true for state in states
    )
    _write_status(api, body, states, fields, phase(states, False, schema_ready), now, result)
    return result


def report_error(api: KubeApi, body: Mapping[str, Any], error: Exception, now: datetime) -> ReconcileResult:
    """Write Ready=False/ReconcileError after a failed reconcile (best effort: the API may be what failed)."""
    result = ReconcileResult(status={}, transitions=[])
    state = ConditionState(ConditionType.READY, "False", Reason.RECONCILE_ERROR, str(error)[:1024])
    _write_status(api, body, [state], {}, Phase.FAILED, now, result)
    return result


# ParserReady reasons a parse run cannot clear: only a full reconcile (which reads the Secrets) can.
_SECRET_REASONS = frozenset({Reason.SECRET_NOT_FOUND.value, Reason.SECRET_KEY_MISSING.value})


def _previous_states(body: Mapping[str, Any]) -> list[ConditionState] | None:
    """The status's conditions as observed states, or None when one cannot be read back (another version)."""
    states = []
    try:
        for item in (body.get("status") or {}).get("conditions") or []:
            kind = ConditionType(item["type"])
            states.append(ConditionState(kind, item["status"], Reason(item["reason"]), str(item.get("message") or "")))
    except (KeyError, ValueError):
        return None
    return states


def reconcile_parse_runs(
    api: KubeApi, body: Mapping[str, Any], now: datetime, options: ReconcileOptions | None = None
) -> ReconcileResult | None:
    """What a finished parse run changes, alone: ParserReady, Ready, the phase and status.lastParse, from the
    parse Jobs and their pods (two LISTs and the status patch, instead of a full reconcile). None when that is
    not enough and the caller must run a full reconcile: an invalid or suspended stack, a stack without a full
    status yet, a ParserReady that only a Secret can clear, conditions this version cannot read back."""
    options = options or ReconcileOptions()
    try:
        stack = parse_stack(body)
    except InvalidStackError:
        return None
    previous = _previous_states(body)
    if stack.spec.suspend or previous is None:
        return None
    kinds = {state.type for state in previous}
    held = find((body.get("status") or {}).get("conditions") or [], ConditionType.PARSER_READY)
    if not {ConditionType.DATABASE_READY, ConditionType.SCHEMA_READY, ConditionType.COLLECTOR_READY} <= kinds or (
        held is not None and held.get("reason") in _SECRET_REASONS
    ):
        return None
    runs = _parse_runs(api, stack)
    parser = parser_condition(
        runs, options.parser_health, parse_cronjob_name(stack), backlog_alert_age=stack.spec.parser.backlog_alert_age
    )
    states = [state for state in previous if state.type not in (ConditionType.READY, ConditionType.PARSER_READY)]
    states.append(parser)
    states.insert(0, ready_condition(states))
    result = ReconcileResult(status={}, transitions=[])
    fields = {"lastParse": last_parse(runs[0])} if runs else {}
    schema_ready = _previous_schema_ready(body)
    _write_status(api, body, states, fields, phase(states, False, schema_ready), now, result)
    return result
