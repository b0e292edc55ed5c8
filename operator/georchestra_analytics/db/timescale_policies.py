"""TimescaleDB jobs reconciled to the configuration: refresh, retention and compression policies.

Desired policies come from the settings; actual ones from timescaledb_information.jobs. A policy whose
settings changed is altered in place (same job id), a missing one is added, an unwanted one removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from georchestra_analytics.db.aggregates import FAMILIES, LEVELS, RAW_TABLES, storage_name
from georchestra_analytics.db.legacy_schema import COMPAT_AGGREGATES
from georchestra_analytics.db.settings import DatabaseSettings

REFRESH = "policy_refresh_continuous_aggregate"
RETENTION = "policy_retention"
COMPRESSION = "policy_compression"
PROCS = (REFRESH, RETENTION, COMPRESSION)
_CONFIG_KEYS = {REFRESH: ("start_offset", "end_offset"), RETENTION: ("drop_after",), COMPRESSION: ("compress_after",)}


@dataclass(frozen=True)
class Policy:
    proc: str
    relation: str  # table or continuous aggregate name, in the schema
    offsets: dict[str, timedelta]  # the config keys of _CONFIG_KEYS[proc]
    schedule: timedelta | None = None  # None: TimescaleDB's default for that policy

    def describe(self) -> str:
        values = ", ".join(f"{key}={_human(value)}" for key, value in self.offsets.items())
        kind = {REFRESH: "refresh", RETENTION: "retention", COMPRESSION: "compression"}[self.proc]
        return f"{kind} policy on {self.relation} ({values})"


@dataclass(frozen=True)
class Job:
    job_id: int
    proc: str
    relation: str
    config: dict[str, Any]
    offsets: dict[str, timedelta | None]
    schedule: timedelta


def _human(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def desired_policies(settings: DatabaseSettings) -> list[Policy]:
    policies: list[Policy] = []
    retention = {"hourly": settings.retention.hourly, "daily": settings.retention.daily,
                 "monthly": settings.retention.monthly}  # fmt: skip
    for raw in RAW_TABLES:
        if settings.retention.raw is not None:
            policies.append(Policy(RETENTION, raw, {"drop_after": settings.retention.raw}))
        if settings.compress_after is not None:
            policies.append(Policy(COMPRESSION, raw, {"compress_after": settings.compress_after}))
    for family in FAMILIES:
        for level in LEVELS:
            name = storage_name(family, level)
            window = getattr(settings.refresh, level)
            policies.append(
                Policy(
                    REFRESH, name, {"start_offset": window.start_offset, "end_offset": window.end_offset}, window.every
                )
            )
            kept = retention[level]
            if kept is not None:
                policies.append(Policy(RETENTION, name, {"drop_after": kept}))
    # 2.x's grain (views/ogc_summary_2x.sql.j2): refreshed like the level it mirrors; hourly, nearly as fine as
    # the raw records, kept as long as they are.
    for level, name in COMPAT_AGGREGATES.items():
        window = getattr(settings.refresh, level)
        policies.append(
            Policy(REFRESH, name, {"start_offset": window.start_offset, "end_offset": window.end_offset}, window.every)
        )
        compat_kept = settings.retention.raw if level == "hourly" else retention[level]
        if compat_kept is not None:
            policies.append(Policy(RETENTION, name, {"drop_after": compat_kept}))
    return policies


def actual_jobs(conn: psycopg.Connection[Any], schema: str) -> list[Job]:
    rows = conn.execute(
        "SELECT job_id, proc_name, hypertable_name, config, schedule_interval,"
        " (config->>'start_offset')::interval, (config->>'end_offset')::interval,"
        " (config->>'drop_after')::interval, (config->>'compress_after')::interval"
        " FROM timescaledb_information.jobs"
        " WHERE hypertable_schema = %s AND proc_name = ANY(%s) ORDER BY job_id",
        (schema, list(PROCS)),
    ).fetchall()
    return [
        Job(job_id=row[0], proc=row[1], relation=row[2], config=row[3] or {}, schedule=row[4],
            offsets={"start_offset": row[5], "end_offset": row[6], "drop_after": row[7], "compress_after": row[8]})
        for row in rows
    ]  # fmt: skip


def _regclass(schema: str, relation: str) -> str:
    return sql.Identifier(schema, relation).as_string(None)


def _add(conn: psycopg.Connection[Any], schema: str, policy: Policy) -> None:
    target = _regclass(schema, policy.relation)
    if policy.proc == RETENTION:
        conn.execute("SELECT add_retention_policy(%s::regclass, drop_after => %s)",
                     (target, policy.offsets["drop_after"]))  # fmt: skip
    elif policy.proc == COMPRESSION:
        conn.execute("SELECT add_compression_policy(%s::regclass, compress_after => %s)",
                     (target, policy.offsets["compress_after"]))  # fmt: skip
    else:
        conn.execute(
            "SELECT add_continuous_aggregate_policy(%s::regclass, start_offset => %s, end_offset => %s,"
            " schedule_interval => %s)",
            (target, policy.offsets["start_offset"], policy.offsets["end_offset"], policy.schedule),
        )


def _remove(conn: psycopg.Connection[Any], schema: str, job: Job) -> None:
    function = {
        RETENTION: "remove_retention_policy",
        COMPRESSION: "remove_compression_policy",
        REFRESH: "remove_continuous_aggregate_policy",
    }[job.proc]
    conn.execute(
        sql.SQL("SELECT {}(%s::regclass, if_exists => true)").format(sql.Identifier(function)),
        (_regclass(schema, job.relation),),
    )


def _interval_text(value: timedelta) -> str:
    return f"{int(value.total_seconds())} seconds"


def reconcile(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    """Bring the jobs to the desired state; returns what was done, empty when nothing needed doing."""
    actions: list[str] = []
    desired = {(policy.proc, policy.relation): policy for policy in desired_policies(settings)}
    seen: set[tuple[str, str]] = set()
    for job in actual_jobs(conn, settings.schema):
        key = (job.proc, job.relation)
        policy = desired.get(key)
        if policy is None or key in seen:
            _remove(conn, settings.schema, job)
            actions.append(f"removed {job.proc} job {job.job_id} on {job.relation}")
            continue
        seen.add(key)
        changed = {name: value for name, value in policy.offsets.items() if job.offsets.get(name) != value}
        if changed:
            config = dict(job.config)
            config.update({name: _interval_text(value) for name, value in changed.items()})
            conn.execute("SELECT alter_job(%s, config => %s)", (job.job_id, Jsonb(config)))
            actions.append(f"altered job {job.job_id}: {policy.describe()}")
        if policy.schedule is not None and job.schedule != policy.schedule:
            conn.execute("SELECT alter_job(%s, schedule_interval => %s)", (job.job_id, policy.schedule))
            actions.append(f"altered job {job.job_id} schedule to every {_human(policy.schedule)}")
    for key, policy in desired.items():
        if key not in seen:
            _add(conn, settings.schema, policy)
            actions.append(f"added {policy.describe()}")
    return actions
