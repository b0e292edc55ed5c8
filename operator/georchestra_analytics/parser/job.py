"""The parse job: drain the buffer table into access records, exactly once.

Each batch is one transaction: claim and delete rows in one statement (FOR UPDATE SKIP LOCKED), classify them,
write the records (COPY, ON CONFLICT (ts, id) DO NOTHING) and the rejects, commit. A crash before the
commit rolls everything back and the rows stay in the buffer; a replay after a commit finds the records
already there (stable ids). Several workers share the backlog because locked rows are skipped.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_loads

from georchestra_analytics.db.buffer import take_batch
from georchestra_analytics.db.faults import describe_fault
from georchestra_analytics.db.isolate import write_isolating
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.schema_info import SchemaInfo, SchemaNotMigrated, read_schema_info
from georchestra_analytics.db.writer import write_rejects
from georchestra_analytics.parser import jsonfast
from georchestra_analytics.parser.ids import reject_id
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord, Reject
from georchestra_analytics.parser.refresh_alongside import RefreshAlongside
from georchestra_analytics.parser.reject_privacy import RejectPrivacy
from georchestra_analytics.parser.report import ParseReport
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.sources.otel import RECORD_UID_ATTRIBUTE
from georchestra_analytics.parser.touched import TouchedDays

log = logging.getLogger(__name__)

# Called after a batch is written and before it commits: progress reporting, and fault injection in tests.
BeforeCommit = Callable[["BatchResult"], None]
# Called with the times of a committed batch's records: the hourly aggregates refreshed behind the drain.
AfterCommit = Callable[[list[datetime]], None]


_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
_MAX_RETRIES = 5


class JobFault(RuntimeError):
    """A system fault (database unreachable, schema missing): the run stops and exits non-zero."""


@dataclass
class BatchResult:
    claimed: int = 0
    written: int = 0  # new records (a replayed record is not new)
    duplicates: int = 0  # records or rejects already stored (replay after a crash, re-ingest)
    rejected: Counter[str] = field(default_factory=Counter)
    touched: TouchedDays = field(default_factory=TouchedDays)
    times: list[datetime] = field(default_factory=list)  # of the records stored (new or already there)


@dataclass
class RunSummary:
    claimed: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    seconds: float = 0.0
    oldest_buffered_age_seconds: float | None = None
    finished_at: str = ""
    claimed_per_worker: list[int] = field(default_factory=list)
    touched: TouchedDays = field(default_factory=TouchedDays)
    aggregates_refreshed: bool | None = None  # None: nothing to refresh (or the postgresql flavor's rollups)

    def add(self, batch: BatchResult) -> None:
        self.claimed += batch.claimed
        self.written += batch.written
        self.duplicates += batch.duplicates
        self.rejected.update(batch.rejected)
        self.batches += 1
        self.touched.update(batch.touched)

    def merge(self, other: RunSummary) -> None:
        self.claimed_per_worker.append(other.claimed)
        self.claimed += other.claimed
        self.written += other.written
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)
        self.batches += other.batches
        self.touched.update(other.touched)

    def report(self) -> ParseReport:
        """The run as its termination message reports it to the controller."""
        return ParseReport(
            claimed=self.claimed,
            written=self.written,
            duplicates=self.duplicates,
            rejected=sum(self.rejected.values()),
            rejected_by_reason=dict(self.rejected.most_common()),
            batches=self.batches,
            claimed_per_worker=tuple(self.claimed_per_worker or [self.claimed]),
            seconds=round(self.seconds, 3),
            oldest_buffered_age_seconds=self.oldest_buffered_age_seconds,
            aggregates_refreshed=self.aggregates_refreshed,
            finished_at=self.finished_at,
        )

    def to_json(self) -> dict[str, Any]:
        return self.report().to_json()

    def describe(self) -> str:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in self.rejected.most_common())
        age = (
            "buffer empty"
            if self.oldest_buffered_age_seconds is None
            else f"oldest buffered record {self.oldest_buffered_age_seconds:.0f} s old"
        )
        return (
            f"{self.claimed} rows claimed in {self.batches} batches, {self.written} records written, "
            f"{self.duplicates} already stored, {sum(self.rejected.values())} rejected"
            + (f" ({reasons})" if reasons else "")
            + f"; {age}; {self.seconds:.1f} s"
        )


def _reject_row(reason: str, raw: dict[str, Any], source: str | None, scrub: RejectPrivacy | None = None) -> Reject:
    """The id comes from the input as it was (so the same input is kept once, whatever the privacy rules); the
    stored input has its client addresses rewritten by the privacy rule."""
    stored = scrub.apply(raw) if scrub is not None else raw
    return Reject(reason, stored, source, reject_id(raw, RECORD_UID_ATTRIBUTE))


class ParseJob:
    """One worker: a connection, the pipeline, and the loop over batches."""

    def __init__(self, conn: psycopg.Connection[Any], settings: ParserSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.pipeline = Pipeline(settings)
        self.reject_privacy = RejectPrivacy(self.pipeline.classifier.privacy)
        self.info: SchemaInfo = read_schema_info(conn, settings.schema)

    def _classify(
        self, claimed: list[dict[str, Any]]
    ) -> tuple[list[AccessRecord], list[dict[str, Any]], list[Reject], Counter[str]]:
        """(records, the rows they came from, rejects, reject counts by reason)."""
        records: list[AccessRecord] = []
        origins: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        reasons: Counter[str] = Counter()
        parse_row = self.pipeline.parse_row
        for item in claimed:
            result = parse_row(item)
            if isinstance(result, Reject):
                reasons[result.reason] += 1
                rejects.append(_reject_row(result.reason, result.raw, result.source, self.reject_privacy))
            else:
                records.append(result)
                origins.append(item)
        return records, origins, rejects, reasons

    def _write(
        self,
        records: list[AccessRecord],
        origins: list[dict[str, Any]],
        rejects: list[Reject],
        reasons: Counter[str],
    ) -> tuple[int, list[AccessRecord]]:
        """Write the records the database takes; the others become rejects with the reason. Returns (new
        records, the records stored or already there)."""
        # The pipeline already refused what record_problem finds: what remains is what only the database knows.
        outcome = write_isolating(self.conn, self.settings.schema, records, self.info, checked=True)
        if outcome.refused:
            log.warning("the database refused %d records of a batch; kept as rejects", len(outcome.refused))
            for position, reason in sorted(outcome.refused.items()):
                self._refuse(origins[position], records[position], reason, rejects, reasons)
        kept = [record for position, record in enumerate(records) if position not in outcome.refused]
        return outcome.written, kept

    def _refuse(
        self,
        origin: dict[str, Any],
        record: AccessRecord,
        why: str,
        rejects: list[Reject],
        reasons: Counter[str],
    ) -> None:
        reason = "unstorable record: " + why
        reasons[reason] += 1
        rejects.append(_reject_row(reason, Pipeline.raw_of(origin), record.get("source"), self.reject_privacy))

    def run_batch(self, before_commit: BeforeCommit | None = None) -> BatchResult:
        result = BatchResult()
        with self.conn.transaction():
            # Claimed and deleted at once: the deletion commits with the records, or neither does.
            claimed = take_batch(self.conn, self.settings.schema, self.settings.batch_size)
            if not claimed:
                return result
            result.claimed = len(claimed)
            records, origins, rejects, result.rejected = self._classify(claimed)
            written, kept = self._write(records, origins, rejects, result.rejected)
            result.written = written
            result.times = [record["ts"] for record in kept if isinstance(record["ts"], datetime)]
            result.touched.include(result.times)
            if rejects:
                # Only the rejects not stored before count: one already there (a re-ingested line) is a
                # duplicate, like a record already there.
                new_ids: set[str] = set()
                write_rejects(self.conn, self.settings.schema, rejects, new_ids=new_ids)
                result.rejected = Counter()
                for reject in rejects:
                    if reject.id in new_ids:
                        new_ids.discard(reject.id)  # the same input twice in a batch is stored once
                        result.rejected[reject.reason] += 1
            result.duplicates = result.claimed - written - sum(result.rejected.values())
            if before_commit is not None:
                before_commit(result)
        return result

    def run(
        self,
        before_commit: BeforeCommit | None = None,
        max_batches: int | None = None,
        after_commit: AfterCommit | None = None,
    ) -> RunSummary:
        summary = RunSummary()
        started = time.perf_counter()
        limit = self.settings.max_batches if max_batches is None else max_batches
        retries = 0
        while limit == 0 or summary.batches < limit:
            try:
                batch = self.run_batch(before_commit)
            except _TRANSIENT as error:
                # Concurrent workers updating the same rollup rows may deadlock; PostgreSQL aborts one
                # transaction, whose rows simply stay in the buffer: try again.
                retries += 1
                if retries > _MAX_RETRIES:
                    raise
                log.warning("batch rolled back (%s), retrying", type(error).__name__)
                time.sleep(0.05 * retries)
                continue
            retries = 0
            if batch.claimed == 0:
                break
            summary.add(batch)
            if after_commit is not None:
                after_commit(batch.times)
            log.info(
                "batch %d: %d claimed, %d written, %d duplicates, %d rejected",
                summary.batches, batch.claimed, batch.written, batch.duplicates, sum(batch.rejected.values()),
            )  # fmt: skip
        summary.seconds = time.perf_counter() - started
        return summary


def oldest_buffered_age(conn: psycopg.Connection[Any], schema: str) -> float | None:
    """Seconds since the oldest row still in the buffer was collected; None when the buffer is empty."""
    query = sql.SQL("SELECT extract(epoch FROM now() - min(coalesce(observed_timestamp, timestamp))) FROM {}").format(
        sql.Identifier(schema, "otel_buffer")
    )
    row = conn.execute(query).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def _lane_limits(max_batches: int, connections: int) -> list[int]:
    """Batches per connection: the worker's limit shared out (0, drain, for each when there is none)."""
    if max_batches == 0:
        return [0] * connections
    lanes = min(connections, max_batches)
    return [max_batches // lanes + (1 if index < max_batches % lanes else 0) for index in range(lanes)]


def _run_lane(
    dsn: str,
    settings: ParserSettings,
    before_commit: BeforeCommit | None,
    max_batches: int,
    alongside: RefreshAlongside | None = None,
) -> RunSummary:
    with psycopg.connect(dsn, autocommit=True, application_name="georchestra-analytics parse") as conn:
        set_json_loads(jsonfast.loads_column, conn)  # the buffer's three jsonb columns, decoded on every row
        after_commit = alongside.committed if alongside is not None else None
        summary = ParseJob(conn, settings).run(before_commit, max_batches, after_commit)
    if alongside is not None:
        alongside.lane_finished()
    return summary


def _run_lanes(
    dsn: str, settings: ParserSettings, before_commit: BeforeCommit | None, alongside: RefreshAlongside | None = None
) -> RunSummary:
    """Several connections in threads: while one classifies (Python, holding the GIL), another waits on the
    database writing its batch, so the two overlap. Each batch is still one transaction on one connection."""
    limits = _lane_limits(settings.max_batches, settings.connections)
    if len(limits) == 1:
        return _run_lane(dsn, settings, before_commit, limits[0], alongside)
    outcomes: list[RunSummary | BaseException | None] = [None] * len(limits)

    def lane(index: int) -> None:
        try:
            outcomes[index] = _run_lane(dsn, settings, before_commit, limits[index], alongside)
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread below
            outcomes[index] = error

    threads = [threading.Thread(target=lane, args=(i,), name=f"parse-lane-{i}") for i in range(len(limits))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = RunSummary()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        summary.claimed += outcome.claimed
        summary.written += outcome.written
        summary.duplicates += outcome.duplicates
        summary.rejected.update(outcome.rejected)
        summary.batches += outcome.batches
        summary.touched.update(outcome.touched)
    return summary


def run_worker(dsn: str, settings: ParserSettings, before_commit: BeforeCommit | None = None) -> RunSummary:
    """One worker process (settings.connections connections). Database faults become JobFault (bad records
    never do)."""
    # Each batch allocates millions of short-lived objects without reference cycles: a larger first GC
    # generation saves most collection passes (about a fifth of the CPU time) without growing memory.
    gc.set_threshold(100_000, 50, 50)
    started = time.perf_counter()
    try:
        # The hours behind the drain are refreshed meanwhile (timescaledb): the final refresh is left the rest.
        with RefreshAlongside(dsn, settings.schema) as alongside:
            summary = _run_lanes(dsn, settings, before_commit, alongside)
    except psycopg.Error as error:
        # Refusals of values are isolated to their records per batch; what reaches here is the connection or
        # the server's own state (permissions, resources, a missing table): a system fault, named as such.
        raise JobFault(describe_fault(error)) from error
    except SchemaNotMigrated as error:
        raise JobFault(str(error)) from error
    summary.seconds = time.perf_counter() - started
    return summary


def _worker_entry(dsn: str, settings: ParserSettings) -> RunSummary:
    return run_worker(dsn, settings)


def run_workers(dsn: str, settings: ParserSettings, workers: int = 1) -> RunSummary:
    """Drain with `workers` processes (one is this process); returns the merged summary."""
    started = time.perf_counter()
    if workers <= 1:
        summary = run_worker(dsn, settings)
    else:
        # Processes, not threads: classification is CPU-bound Python. Each opens its own connection.
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers) as pool:
            results = pool.starmap(_worker_entry, [(dsn, settings)] * workers)
        summary = RunSummary()
        for result in results:
            summary.merge(result)
    summary.seconds = time.perf_counter() - started
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            summary.oldest_buffered_age_seconds = oldest_buffered_age(conn, settings.schema)
    except psycopg.OperationalError as error:
        raise JobFault(f"database unreachable: {str(error).strip()}") from error
    _refresh_touched_aggregates(dsn, settings, summary)
    summary.finished_at = datetime.now(UTC).isoformat()
    return summary


def _refresh_touched_aggregates(dsn: str, settings: ParserSettings, summary: RunSummary) -> None:
    """Continuous aggregates over the span this run wrote, so dashboards need not wait for the next policy
    run (timescaledb; the postgresql flavor's rollups are already current). Once per run rather than per batch:
    a refresh recomputes whole daily and monthly buckets, too costly to repeat for every batch of a backfill,
    and real-time aggregates show the newest rows meanwhile. A failure leaves the records committed and the
    policies to catch up, so it is a warning, not a fault."""
    spans = summary.touched.spans()
    if summary.written == 0 or not spans:
        return
    try:
        refreshed = [
            name for start, end in spans for name in refresh_aggregates(dsn, start, end, schema=settings.schema)
        ]
    except psycopg.Error as error:
        summary.aggregates_refreshed = False
        log.warning("records written, but refreshing the aggregates failed (the policies will): %s", error)
        return
    summary.aggregates_refreshed = True if refreshed else None
