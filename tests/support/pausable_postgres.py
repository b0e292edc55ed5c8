"""A PostgreSQL cluster of its own that a test can stop and start again on the same port, data kept.

The session's shared cluster serves every other test and cannot go away; a fault test that takes the database
down starts this one, from the session cluster's binaries (TimescaleDB included when the session has it).
`pause` is `pg_ctl stop -m fast` (clients are disconnected, the data directory stays); `resume` starts the same
data directory on the same port, so a client configured with the old address (Vector's sink) reconnects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from georchestra_analytics.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_bindir
from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer


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
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            except psycopg.Error as error:
                skip_or_fail("timescaledb", f"timescaledb not available in {self.server.bindir}: {error}")
        return dsn

    def pause(self) -> None:
        """Stop the server (fast shutdown: sessions are cut), keeping its files."""
        # EmbeddedPostgres.stop also deletes the cluster; its _run runs pg_ctl as the cluster's owner.
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
def pausable_postgres(session: PostgresServer) -> Iterator[PausablePostgres]:
    """A dedicated cluster from the binaries of the session's (or the local ones, with ANALYTICS_TEST_DSN)."""
    try:
        bindir = session.embedded.bindir if session.embedded is not None else find_bindir()
        server = EmbeddedPostgres(bindir=bindir).start()
    except EmbeddedPostgresError as error:
        pytest.skip(f"no PostgreSQL server binaries to start a cluster that can be stopped: {error}")
    try:
        yield PausablePostgres(server)
    finally:
        server.stop()
