"""Shared by the postgresql and timescaledb tiers: one anonymous request with a hostile value beside two normal
ones, loaded with `ingest` and parsed by the real job; and a reader of what the job stored."""

from __future__ import annotations

import random
import string
from collections import Counter
from pathlib import Path

import psycopg
from click.testing import CliRunner
from psycopg import sql
from tests.support.accesslogs import proxy_line

from georchestra_analytics.cli import cli

SCHEMA = "analytics"
# Letters that do not compress: an index entry of them really is 3,000 bytes.
LONG = "".join(random.Random(3000).choices(string.ascii_letters, k=3000))


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


def hostile_lines() -> dict[str, list[str]]:
    """Name -> three proxy lines (normal, hostile, normal): each hostile value is one a client controls."""
    normal = "http://geoserver:8080/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp:states&n="
    cases = {
        "request": f"http://geoserver:8080/geoserver/ows?SERVICE=WMS&REQUEST={LONG}",
        "service": f"http://geoserver:8080/geoserver/ows?SERVICE={LONG}&REQUEST=GetMap",
        "format": f"http://geoserver:8080/geoserver/ows?SERVICE=WFS&REQUEST=GetFeature&typeName=a:b&outputFormat={LONG}",
        "layer": f"http://geoserver:8080/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:{LONG}",
        "workspace": f"http://geoserver:8080/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS={LONG}:a",
        "host": f"http://{LONG}.example.org/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=a",
    }
    return {
        name: [proxy_line(normal + "1"), proxy_line(hostile, millis=5), proxy_line(normal + "2")]
        for name, hostile in cases.items()
    }


# (service, request) each hostile line is stored as.
EXPECTED = {
    "request": ("WMS", "other"),
    "service": ("WMS", "getmap"),
    "format": ("WFS", "getfeature"),
    "layer": ("WMS", "getmap"),
    "workspace": ("WMS", "getmap"),
    "host": ("WMS", "getmap"),
}


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def ingest_and_parse(dsn: str, tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / f"{name}.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    invoke("ingest", "--dsn", dsn, str(path))
    return invoke("parse", "--dsn", dsn, "--json")


def stored(dsn: str) -> tuple[list[tuple[str | None, str | None]], Counter[str], int]:
    """(service, request) of every stored record, rejects by reason, rows left in the buffer."""
    with psycopg.connect(dsn) as conn:
        query = sql.SQL("SELECT service, request FROM {}").format(_table("access_logs"))
        records: list[tuple[str | None, str | None]] = list(conn.execute(query))
        rejects = Counter(
            dict(conn.execute(sql.SQL("SELECT reason, count(*) FROM {} GROUP BY 1").format(_table("rejected_logs"))))
        )
        left = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_table("otel_buffer"))).fetchone()
    assert left is not None
    return records, rejects, int(left[0])


def clear(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("access_logs", "access_log_layers", "rejected_logs", "otel_buffer"):
            conn.execute(sql.SQL("DELETE FROM {}").format(_table(table)))
