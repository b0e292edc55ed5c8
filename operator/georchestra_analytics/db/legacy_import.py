"""`db import-2x`: the history of a georchestra-analytics 2.x schema, brought into this project's schema.

Each 2.x `access_logs` row becomes a record of this project, or a reject with its reason: rows in = records +
rejects. Record ids are digests of the 2.x row's own identity (its id, else its oid, and its time), so a second
run finds every record stored and adds nothing. Rows are read in (ts, oid) order through one server-side cursor
and written in batches, each batch in one transaction with the checkpoint (`legacy_imports`): an interrupted
import resumes after the last batch it committed. The 2.x tables are only read; see docs/upgrade-from-2x.md for
the mapping of every column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from georchestra_analytics.db.isolate import write_isolating
from georchestra_analytics.db.legacy_schema import BUFFER_TABLES
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.schema_info import read_schema_info
from georchestra_analytics.db.writer import record_problem, write_rejects
from georchestra_analytics.parser.formats import download_formats
from georchestra_analytics.parser.ids import stable_id
from georchestra_analytics.parser.organisations import OrganisationMap
from georchestra_analytics.parser.privacy import Privacy
from georchestra_analytics.parser.reject_privacy import RejectPrivacy
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.window import OUTSIDE_WINDOW, outside_window

log = logging.getLogger(__name__)

SOURCE = "analytics-2.x"  # the `source` of imported records and rejects
CHECKPOINTS = "legacy_imports"
LEGACY_COLUMNS: tuple[str, ...] = (
    "oid", "id", "ts", "message", "app_id", "app_path", "app_name", "ip", "user_id", "user_name", "org_id",
    "org_name", "roles", "auth_method", "request_method", "request_path", "request_query_string", "request_details",
    "response_time", "response_size", "status_code", "client_ip", "server_address", "context_data",
)  # fmt: skip

OnBatch = Callable[[int], None]  # rows read by the batch just committed


class LegacyImportError(RuntimeError):
    """The import cannot go on (a source or target missing, counts that do not match); the message says why."""


def _text(value: Any) -> str | None:
    """2.x stores absent values as '' (anonymous users, no organisation): this project stores NULL."""
    if value is None:
        return None
    text = str(value)
    return text or None


def _layers(app: str | None, details: Mapping[str, Any]) -> list[str]:
    """Full layer names. 2.x's GeoServer processor split `ws:name` into `layers` (names, comma-joined) and
    `workspaces` (one per layer, or one for all when they were the same); other processors kept the raw string."""
    names = [name for name in str(details.get("layers") or "").split(",") if name]
    if app != "geoserver":
        return names
    workspaces = str(details.get("workspaces") or "").split(",")
    full = []
    for position, name in enumerate(names):
        if ":" in name:
            full.append(name)
            continue
        workspace = workspaces[0] if len(workspaces) == 1 else (
            workspaces[position] if len(workspaces) == len(names) else "")  # fmt: skip
        full.append(f"{workspace}:{name}" if workspace else name)
    return full


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _user_agent(details: Mapping[str, Any]) -> dict[str, str | None] | None:
    if not details.get("user_agent_family") and not details.get("user_agent_string"):
        return None
    return {"family": _text(details.get("user_agent_family")), "version": _text(details.get("user_agent_version")),
            "os": _text(details.get("os_family")), "device": _text(details.get("device_family"))}  # fmt: skip


def legacy_id(row: Mapping[str, Any]) -> str:
    """The record id of a 2.x row: its own id (unique with ts in 2.x), else its oid (unique in the table)."""
    own = row.get("id")
    identity = f"id:{own}" if own else f"oid:{row.get('oid')}"
    return stable_id("analytics-2.x", identity, row["ts"].isoformat())


def _requested_format(details: Mapping[str, Any]) -> str | None:
    """The format a 2.x download asked for: the request's own parameter (2.x kept them lower-cased by name), else
    2.x's label for it (`Excel`, `Shapefile`...)."""
    for key in ("outputformat", "f", "format"):
        value = _text(details.get(key))
        if value and not (key == "format" and str(details.get("service", "")).upper() != "WCS"):
            return value
    return _text(details.get("download_format"))


@dataclass(frozen=True)
class Rules:
    """What this project applies to every record, from the stack: privacy and the organisation alias map."""

    privacy: Privacy
    organisations: OrganisationMap

    @classmethod
    def of(cls, settings: ParserSettings) -> Rules:
        return cls(Privacy(settings.privacy), OrganisationMap(settings.organisation_aliases))


def legacy_record(row: Mapping[str, Any], rules: Rules) -> dict[str, Any]:
    """A 2.x access_logs row (a mapping of its columns) as a record of this project."""
    details = row.get("request_details")
    details = details if isinstance(details, dict) else {}
    app = _text(row.get("app_name"))
    layers = _layers(app, details)
    tags = details.get("tags")
    service = _text(details.get("service"))
    is_download = _flag(details.get("is_download"))
    download_format, requested = download_formats(service, _requested_format(details), is_download)
    # 2.x's org_name is the Gateway's enduser.org.id: the organisation's key, or an alias of it.
    org, org_name = rules.organisations.resolve(_text(row.get("org_name")), None)
    record: dict[str, Any] = {
        "ts": row["ts"],
        "id": legacy_id(row),
        "source": SOURCE,
        "server": _text(row.get("server_address")),
        "app": app,
        "method": _text(row.get("request_method")),
        "path": row.get("request_path") or "",
        "query": _text(row.get("request_query_string")),
        "status": row.get("status_code"),
        "user": _text(row.get("user_name")),
        "org": org,
        "roles": [role for role in row.get("roles") or [] if role],
        "service": service,
        "request": _text(details.get("request")),
        "layers": layers,
        "workspaces": sorted({layer.split(":", 1)[0] for layer in layers if ":" in layer}),
        "tiled": _flag(details.get("tiled")),
        "is_download": is_download,
        "download_format": download_format,
        "response_time_ms": row.get("response_time"),
        "response_size": row.get("response_size"),
        "referrer": _text(details.get("referrer")),
        "user_agent": _user_agent(details),
        "client_ip": rules.privacy.client_ip(_text(row.get("client_ip")) or _text(row.get("ip"))),
        "tags": [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else [],
        "org_name": org_name,
        "download_format_requested": requested,
    }
    rules.privacy.apply(record)  # type: ignore[arg-type]
    return record


def _raw(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in row.items()}


@dataclass
class Batch:
    rows: int = 0
    written: int = 0  # new records
    present: int = 0  # records already stored (a replay)
    rejected: int = 0  # new rejects
    rejects_present: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None


def _reject(reason: str, row: Mapping[str, Any], scrub: RejectPrivacy) -> dict[str, Any]:
    """A reject of a 2.x row: its columns with the client-address rule applied (spec.parser.privacy), as the parse
    job stores its rejects; the id comes from the row as 2.x stored it, so a second run finds the reject stored."""
    return {"reason": reason, "raw": scrub.apply(_raw(row)), "source": SOURCE,
            "id": stable_id("reject", legacy_id(row))}  # fmt: skip


def convert(rows: Iterable[Mapping[str, Any]], settings: ParserSettings, rules: Rules) -> tuple[
        list[tuple[Mapping[str, Any], dict[str, Any]]], list[dict[str, Any]]]:  # fmt: skip
    """(records, each beside the row it came from; rejects) of 2.x rows: a row outside the accepted window or not
    storable is a reject."""
    scrub = RejectPrivacy(rules.privacy)
    records, rejects = [], []
    for row in rows:
        reason = None
        try:
            record = legacy_record(row, rules)
            if outside_window(record["ts"], settings):
                reason = OUTSIDE_WINDOW
            else:
                problem = record_problem(record)
                reason = None if problem is None else "unstorable record: " + problem.split(":", 1)[0]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            reason = f"unreadable 2.x row: {type(error).__name__}"
        if reason is None:
            records.append((row, record))
        else:
            rejects.append(_reject(reason, row, scrub))
    return records, rejects


def _write_batch(conn: psycopg.Connection[Any], schema: str, rows: list[dict[str, Any]], settings: ParserSettings,
                 rules: Rules) -> Batch:  # fmt: skip
    batch = Batch(rows=len(rows), first_ts=rows[0]["ts"], last_ts=rows[-1]["ts"])
    pairs, rejects = convert(rows, settings, rules)
    records = [record for _, record in pairs]
    outcome = write_isolating(conn, schema, records, read_schema_info(conn, schema), checked=True)
    scrub = RejectPrivacy(rules.privacy)
    for position, why in sorted(outcome.refused.items()):  # positions in `records`, whose rows are in `pairs`
        rejects.append(_reject("unstorable record: " + why, pairs[position][0], scrub))
    batch.written = outcome.written
    batch.present = len(records) - len(outcome.refused) - outcome.written
    if rejects:
        batch.rejected = write_rejects(conn, schema, rejects)
        batch.rejects_present = len(rejects) - batch.rejected
    return batch


@dataclass
class Checkpoint:
    source: str
    last_ts: datetime | None = None
    last_oid: int | None = None
    rows: int = 0
    first_ts: datetime | None = None  # span of the rows read, for the aggregates' refresh
    max_ts: datetime | None = None
    buffer_copied: int | None = None
    finished: bool = False


def _checkpoints(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, CHECKPOINTS)


def read_checkpoint(conn: psycopg.Connection[Any], target: str, source: str) -> Checkpoint:
    row = conn.execute(
        sql.SQL(
            "SELECT last_ts, last_oid, rows_read, first_ts, max_ts, buffer_copied, finished_at IS NOT NULL"
            " FROM {} WHERE source_schema = %s"
        ).format(_checkpoints(target)),
        (source,),
    ).fetchone()
    if row is None:
        return Checkpoint(source)
    return Checkpoint(source, row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def _save(conn: psycopg.Connection[Any], target: str, point: Checkpoint, finished: bool = False) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (source_schema, last_ts, last_oid, rows_read, first_ts, max_ts, buffer_copied,"
            " finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)"
            " ON CONFLICT (source_schema) DO UPDATE SET last_ts = excluded.last_ts, last_oid = excluded.last_oid,"
            " rows_read = excluded.rows_read, first_ts = excluded.first_ts, max_ts = excluded.max_ts,"
            " buffer_copied = excluded.buffer_copied, finished_at = excluded.finished_at, updated_at = now()"
        ).format(_checkpoints(target)),
        (
            point.source,
            point.last_ts,
            point.last_oid,
            point.rows,
            point.first_ts,
            point.max_ts,
            point.buffer_copied,
            finished,
        ),
    )


@dataclass
class ImportRun:
    """What one run did (a resumed run counts only its own batches)."""

    source_rows: int = 0  # rows of the 2.x access_logs
    already_read: int = 0  # rows read by earlier runs (the checkpoint)
    read: int = 0
    written: int = 0
    present: int = 0
    rejected: int = 0
    rejects_present: int = 0
    batches: int = 0
    buffer_copied: int = 0
    refreshed: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.written + self.present

    @property
    def rejects(self) -> int:
        return self.rejected + self.rejects_present

    def lines(self) -> list[str]:
        return [
            f"2.x rows read this run: {self.read} = {self.records} records ({self.written} new, {self.present} "
            f"already imported) + {self.rejects} rejects ({self.rejected} new, {self.rejects_present} already kept)",
            f"rows read before (checkpoint): {self.already_read}; 2.x rows in all: {self.source_rows}",
            f"2.x buffer rows copied into the buffer for the parse job: {self.buffer_copied}",
        ]


def _scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()
    return row[0] if row else None


def count_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
    return int(row[0]) if row else 0


def _require_tables(conn: psycopg.Connection[Any], source: str, target: str) -> None:
    for schema, table in ((source, "access_logs"), (target, CHECKPOINTS)):
        if conn.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, table).as_string(conn),)).fetchone() == (
            None,
        ):
            raise LegacyImportError(f"{schema}.{table} does not exist: is {source!r} a 2.x schema, and was "
                                    f"{target!r} migrated (`georchestra-analytics db migrate`)?")  # fmt: skip


def _copy_buffer(conn: psycopg.Connection[Any], source: str, target: str, point: Checkpoint) -> int:
    """Leftover 2.x buffer rows into this project's buffer, once (with the checkpoint, in one transaction);
    the parse job then classifies them like any other row."""
    if point.buffer_copied is not None:
        return 0
    columns = sql.SQL(", ").join(map(sql.Identifier, (
        "timestamp", "observed_timestamp", "message", "attributes", "resources", "scope", "trace_id", "span_id",
        "severity_text", "severity_number", "flags", "dropped_attributes_count", "source_type")))  # fmt: skip
    copied = 0
    with conn.transaction():
        for table in BUFFER_TABLES:
            if source == target and table == "otel_buffer":
                continue
            name = sql.Identifier(source, table)
            if conn.execute("SELECT to_regclass(%s)", (name.as_string(conn),)).fetchone() == (None,):
                continue
            cursor = conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    sql.Identifier(target, "otel_buffer"), columns, columns, name
                )
            )
            copied += cursor.rowcount
        point.buffer_copied = copied
        _save(conn, target, point, point.finished)
    return copied


def import_history(
    dsn: str,
    source: str,
    target: str,
    settings: ParserSettings,
    *,
    batch_size: int = 5000,
    on_batch: OnBatch | None = None,
    max_batches: int | None = None,
) -> ImportRun:
    """Import what the checkpoint says is left; `max_batches` stops early (an interruption, in tests)."""
    if batch_size < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    run = ImportRun()
    rules = Rules.of(settings)
    with psycopg.connect(dsn, autocommit=True) as conn, psycopg.connect(dsn, row_factory=dict_row) as reader:
        _require_tables(conn, source, target)
        # One import per target at a time (session lock, released when this connection closes).
        if not _scalar(conn, "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", f"import-2x {target}"):
            raise LegacyImportError(f"another `db import-2x` into {target!r} is running: wait for it to end")
        point = read_checkpoint(conn, target, source)
        was_finished = point.finished
        run.already_read = point.rows
        run.source_rows = count_rows(conn, source, "access_logs")
        run.buffer_copied = _copy_buffer(conn, source, target, point)
        after = sql.SQL("")
        params: tuple[Any, ...] = ()
        if point.last_ts is not None:
            after = sql.SQL(" WHERE (ts, oid) > (%s, %s)")
            params = (point.last_ts, point.last_oid)
        query = sql.SQL("SELECT {} FROM {}{} ORDER BY ts, oid").format(
            sql.SQL(", ").join(map(sql.Identifier, LEGACY_COLUMNS)), sql.Identifier(source, "access_logs"), after
        )
        reader.read_only = True
        with reader.cursor(name="georchestra_analytics_2x_import") as cursor:
            cursor.itersize = batch_size
            cursor.execute(query, params)
            while max_batches is None or run.batches < max_batches:
                rows = cursor.fetchmany(batch_size)
                if not rows:
                    break
                with conn.transaction():
                    batch = _write_batch(conn, target, rows, settings, rules)
                    point.last_ts, point.last_oid = rows[-1]["ts"], rows[-1]["oid"]
                    point.rows += len(rows)
                    point.first_ts = min(filter(None, (point.first_ts, batch.first_ts)))
                    point.max_ts = max(filter(None, (point.max_ts, batch.last_ts)))
                    _save(conn, target, point)
                run.batches += 1
                run.read += batch.rows
                run.written += batch.written
                run.present += batch.present
                run.rejected += batch.rejected
                run.rejects_present += batch.rejects_present
                if on_batch is not None:
                    on_batch(batch.rows)
            else:  # the loop's condition ended it, not the end of the rows: stopped early, like an interruption
                return run
        # Over the whole imported span: a run resumed after an interruption refreshes what the first one wrote
        # too; on timescaledb the aggregates of 2.x's grain are refreshed with the others (db/refresh.py). The
        # import is marked finished only then: a run whose refresh failed (or that died) leaves it unfinished, and
        # the next run refreshes again.
        if point.first_ts is not None and point.max_ts is not None and (run.written or not was_finished):
            run.refreshed = refresh_aggregates(dsn, point.first_ts, point.max_ts, schema=target)
        with conn.transaction():
            _save(conn, target, point, finished=True)
    return run


@dataclass(frozen=True)
class Counts:
    source_rows: int
    records: int  # imported records in the target
    rejects: int  # imported rejects in the target

    @property
    def matching(self) -> bool:
        return self.source_rows == self.records + self.rejects

    def line(self) -> str:
        verdict = "they match" if self.matching else "THEY DO NOT MATCH"
        return (f"2.x rows: {self.source_rows}; imported records: {self.records}; imported rejects: {self.rejects}; "
                f"rows = records + rejects: {verdict}")  # fmt: skip


def imported_counts(dsn: str, source: str, target: str) -> Counts:
    with psycopg.connect(dsn, autocommit=True) as conn:
        _require_tables(conn, source, target)
        records = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE source = %s").format(sql.Identifier(target, "access_logs")),
            (SOURCE,),
        ).fetchone()
        rejects = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE source = %s").format(sql.Identifier(target, "rejected_logs")),
            (SOURCE,),
        ).fetchone()
        return Counts(count_rows(conn, source, "access_logs"), int(records[0]) if records else 0,
                      int(rejects[0]) if rejects else 0)  # fmt: skip
