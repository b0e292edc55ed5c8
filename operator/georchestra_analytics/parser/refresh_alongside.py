"""Refreshing the hourly continuous aggregates while the parse job drains (timescaledb flavor).

A run's final refresh (parser/job.py) reads every record the run wrote, once per hourly aggregate, after the
drain: on a large backlog about as long again as the drain itself, while the database core sat mostly idle
during the drain (the parser's classification is the slower side). A backlog drains roughly in time order, so
the hours behind the batches being written are settled: this thread refreshes them on its own connection while
the lanes go on, and the final refresh finds them already materialised (a refresh that is not forced
recomputes only what changed since: docs/performance.md). A record arriving later for a settled hour is not
lost: its insert invalidates the hour, which the final refresh recomputes.

Never a fault: a failed background refresh is a warning, and the final refresh (or the refresh policies)
covers the same hours.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from georchestra_analytics.db.refresh import refresh_hourly
from georchestra_analytics.db.schema_info import SchemaNotMigrated, read_schema_info

log = logging.getLogger(__name__)

# The settled edge stays this far behind the batches being written: records a few minutes out of order (a line
# logged late, a slower source) still fall into hours not yet refreshed. Later ones reopen their hour (above).
SETTLE_MARGIN = timedelta(minutes=5)
# A bucket of the configured time zone may start off the UTC hour (half-hour zones): the window starts this
# much earlier so the first hour wanted is wholly inside it (as db/refresh.py widens its windows).
_WIDEN = timedelta(hours=2)
# A window reaches back at most this far: an old straggler (a line of last year) is left to the final refresh,
# which refreshes far-apart days apart (parser/touched.py), rather than widening this window over the years.
_REACH = timedelta(days=7)
# How long a failed drain waits for the refresher to stop once its refresh is cancelled (a server that no longer
# answers does not hold the job's exit any longer: the thread is a daemon).
_ABANDON_WAIT_SECONDS = 10.0
# The share of a batch's records that may be older than its frontier: a few stragglers do not hold it back.
_FRONTIER_QUANTILE = 0.01


def frontier_of(times: Iterable[datetime]) -> datetime | None:
    """The time from which a batch's records run on: its oldest but for the oldest 1 %."""
    ordered = sorted(times)
    if not ordered:
        return None
    return ordered[int(len(ordered) * _FRONTIER_QUANTILE)]


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class RefreshAlongside:
    """The background refresher: lanes report each committed batch (`committed`), the thread refreshes the
    hourly aggregates over the hours every lane has moved past. Use as a context manager around the drain: on
    leaving, the hours settled by the last batches are refreshed before it returns."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._frontiers: dict[int, datetime] = {}  # per lane (thread id): where its latest batch runs from
        self._pending_since: datetime | None = None  # the oldest record written and not yet refreshed
        self._finished: list[datetime] = []  # the last frontiers of the lanes that are done
        self._abandoned = False
        self._connection: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._loop, name="refresh-alongside", daemon=True)

    def __enter__(self) -> RefreshAlongside:
        self._thread.start()
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        self._stopping = True
        if error_type is not None:
            # The drain failed (a fault, an interrupt): report it now, not after one more refresh.
            self._abandoned = True
            connection = self._connection
            if connection is not None:
                connection.cancel_safe()  # a refresh under way stops (its work is rolled back, nothing is lost)
        self._wake.set()
        self._thread.join(timeout=None if error_type is None else _ABANDON_WAIT_SECONDS)

    def lane_finished(self) -> None:
        """A lane found the buffer empty or reached its limit: it no longer holds the settled edge back."""
        with self._lock:
            frontier = self._frontiers.pop(threading.get_ident(), None)
            if frontier is not None:
                self._finished.append(frontier)
        self._wake.set()

    def committed(self, times: list[datetime]) -> None:
        """A lane committed a batch holding records of these times."""
        frontier = frontier_of(times)
        if frontier is None:
            return
        oldest = min(times)
        with self._lock:
            self._frontiers[threading.get_ident()] = frontier
            if self._pending_since is None or oldest < self._pending_since:
                self._pending_since = oldest
        self._wake.set()

    def _window(self) -> tuple[datetime, datetime] | None:
        """The hours to refresh now: from the oldest pending record to the settled edge behind every lane."""
        with self._lock:
            # The slowest lane still draining holds the edge; once all are done, the furthest any lane went.
            edge = min(self._frontiers.values()) if self._frontiers else max(self._finished, default=None)
            if self._pending_since is None or edge is None:
                return None
            settled = _hour_floor(edge - SETTLE_MARGIN)
            start = max(_hour_floor(self._pending_since) - _WIDEN, settled - _REACH)
            if settled <= start + _WIDEN:
                return None
            # What lies past the settled edge stays pending; what arrives meanwhile lowers it again.
            self._pending_since = settled
            return start, settled

    def _loop(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True, application_name="georchestra-analytics refresh") as conn:
                if read_schema_info(conn, self.schema).flavor != "timescaledb":
                    return  # the postgresql flavor's rollups are written with each batch
                self._connection = conn
                while True:
                    self._wake.wait()
                    self._wake.clear()
                    stopping = self._stopping  # read first: a batch reported before the stop is refreshed
                    window = None if self._abandoned else self._window()
                    if window is not None:
                        self._refresh(conn, *window)
                    if stopping:
                        return
        except SchemaNotMigrated:
            return  # the lanes say so
        except psycopg.Error as error:
            if not self._abandoned:
                log.warning("refreshing aggregates while draining stopped (the final refresh covers it): %s", error)
        finally:
            self._connection = None

    def _refresh(self, conn: psycopg.Connection[Any], start: datetime, end: datetime) -> None:
        # One background refresher at a time across the run's worker processes: the others skip their turn.
        key = f"refresh-alongside {self.schema}"
        row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
        if not row or not row[0]:
            self._reopen(start + _WIDEN)
            return
        try:
            refresh_hourly(conn, self.schema, start, end)
            log.debug("refreshed the hourly aggregates over %s .. %s while draining", start, end)
        except psycopg.errors.LockNotAvailable:
            # A refresh policy is refreshing one of them (TimescaleDB refuses a second refresh rather than
            # wait): these hours are tried again on the next batch, or left to the final refresh.
            self._reopen(start + _WIDEN)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def _reopen(self, since: datetime) -> None:
        with self._lock:
            if self._pending_since is None or since < self._pending_since:
                self._pending_since = since
