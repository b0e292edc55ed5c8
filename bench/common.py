"""What the benchmarks share: the throwaway server (from the test tier's binaries, TimescaleDB added from
ANALYTICS_TIMESCALEDB_TARBALL as for the timescale tier), the timed COPY baseline, and CPU accounting from /proc.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from tests.support.postgres import server_binaries

from georchestra_analytics.db.embedded import EmbeddedPostgres, _postmaster_pid, find_bindir

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def throwaway_server(settings: dict[str, str] | None = None) -> Iterator[EmbeddedPostgres]:
    """A cluster from the test tier's binaries; with ANALYTICS_TIMESCALEDB_TARBALL it can create timescaledb."""
    bindir, problem = server_binaries()
    if problem:
        print(problem, file=sys.stderr)
    with EmbeddedPostgres(bindir=bindir or find_bindir(), settings=settings or {}) as embedded:
        yield embedded


def postmaster_of(embedded: EmbeddedPostgres) -> int:
    pid = _postmaster_pid(embedded.datadir)
    if pid is None:
        raise RuntimeError("no postmaster.pid in the cluster")
    return pid


def timescaledb_available(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone() is not None


def timed_copy(
    conn: psycopg.Connection[Any],
    table: sql.Identifier,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    json_columns: frozenset[str] = frozenset(),
) -> float:
    """COPY `rows` (values in `columns` order) into `table` and commit; returns the seconds of the COPY and the
    commit only (the JSON values are wrapped before the clock starts)."""
    positions = [index for index, column in enumerate(columns) if column in json_columns]
    prepared = [list(row) for row in rows]
    for row in prepared:
        for index in positions:
            if row[index] is not None:
                row[index] = Jsonb(row[index])
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    started = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for row in prepared:
            copy.write_row(row)
    conn.commit()
    return time.perf_counter() - started


def timed_copy_of_query(
    source: psycopg.Connection[Any], query: sql.Composable, target: psycopg.Connection[Any], table: sql.Identifier
) -> tuple[float, int]:
    """The rows of `query` as COPY data, read into memory first, then COPYed into `table` and committed: returns
    (seconds of the COPY and the commit only, rows sent). What the database alone takes: no client formatting in
    the timed part."""
    blocks: list[bytes] = []
    with source.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(query)) as out:
        blocks.extend(bytes(block) for block in out)
    started = time.perf_counter()
    with target.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table)) as into:
        for block in blocks:
            into.write(block)
    target.commit()
    # Text COPY ends every row with a newline and escapes the ones inside values.
    return time.perf_counter() - started, sum(block.count(b"\n") for block in blocks)


# -- CPU accounting ----------------------------------------------------------------------------------------------


def ticks(pid: int, children: bool = False) -> int:
    """utime + stime (and the reaped children's, with `children`) of one process, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if children else 0)


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds of the cluster so far: the postmaster, its live backends, and those it has reaped."""
    total = ticks(postmaster, children=True) + sum(ticks(child) for child in children_of(postmaster))
    return total / CLOCK_TICKS


def high_water_mb(pid: int) -> float:
    """VmHWM of one process (its peak resident set since its last exec), in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakMemory:
    """The largest VmHWM of a process and its children, sampled in a thread until stopped. Not the rusage of
    wait4: a child forked from this process starts with this process's pages counted, which that figure keeps."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in (self.pid, *children_of(self.pid)):
                self.peak = max(self.peak, high_water_mb(pid))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak
