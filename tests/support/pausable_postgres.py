"""A PostgreSQL cluster of its own that a test can stop and start again on the same port, data kept.

The session's shared cluster serves every other test and cannot go away; a fault test that takes the database
down starts this one (same binaries as the session's, so TimescaleDB is there when the session has it).
`pause` is `pg_ctl stop -m fast` (clients are disconnected, the data directory stays); `resume` starts the same
data directory on the same port, so a client configured with the old address (Vector's sink) reconnects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from georchestra_analytics.db.embedded import EmbeddedPostgres, find_bindir
from tests.support.postgres import server_binaries


@dataclass
class PausablePostgres:
    server: EmbeddedPostgres
    running: bool = True

    @property
    def port(self) -> int:
        return self.server.port

    def create_database(self, timescaledb: bool = False) -> str:
        name = f"fault_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        dsn = self.server.dsn_for(name)
        if timescaledb:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return dsn

    def pause(self) -> None:
        """Stop the server (fast shutdown: sessions are cut), keeping its files."""
        self.server._run([str(self.server.bindir / "pg_ctl"), "stop", "-D", str(self.server.datadir), "-m", "fast",
                          "-w"])  # fmt: skip
        self.running = False

    def resume(self) -> None:
        """Start the same data directory again, on the same port."""
        port = self.server.port
        self.server.start()
        if self.server.port != port:
            raise AssertionError(f"the port {port} was taken while the server was down")
        self.running = True


@contextmanager
def pausable_postgres() -> Iterator[PausablePostgres]:
    """A dedicated cluster from the session's binaries (with TimescaleDB when ANALYTICS_TIMESCALEDB_TARBALL is set)."""
    bindir, problem = server_binaries()
    if problem:
        raise AssertionError(problem)
    server = EmbeddedPostgres(bindir=bindir or find_bindir()).start()
    try:
        yield PausablePostgres(server)
    finally:
        server.stop()
