"""Migration 0006 on a database that already holds records (compressed chunks on timescaledb): it adds
`org_name` and `download_format_requested`, older rows keep NULL there, and the parse job then writes the
organisation's key and display name, the canonical format and the requested one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tests.support.accesslogs import gateway_row, proxy_line
from tests.support.older_families import compress_every_chunk, migrate_as_before

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.ingest import buffer_rows
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

NEW = "0006_org_name_requested_format"
OLD_TS = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
NEW_TS = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
DOWNLOAD = "/geoserver/wfs?service=WFS&request=GetFeature&typeName=a:b&outputFormat=SHAPE-ZIP"


def _upgrade(dsn: str, flavor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = DatabaseSettings(flavor=flavor)  # type: ignore[arg-type]
    migrate_as_before(dsn, settings, NEW, monkeypatch)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO analytics.access_logs (ts, id, source, path, org, download_format, roles, layers, workspaces,"
            " tiled, is_download, tags) VALUES (%s, 'old', 'security-proxy', '/geoserver/wfs', 'Ville d''Orléans',"
            " 'shape-zip', '{}', '{}', '{}', false, true, '{}')",
            (OLD_TS,),
        )
        if flavor == "timescaledb":
            assert compress_every_chunk(conn) == 1
    report = migrate(dsn, settings)
    assert report.applied[0] == NEW  # later migrations may follow
    assert not migrate(dsn, settings).changed


def _parse(dsn: str) -> dict[str, tuple[str | None, ...]]:
    line = proxy_line(f"http://geoserver:8080{DOWNLOAD}", user="lea", org="Ville d'Orléans", ts=NEW_TS)
    gateway = gateway_row(DOWNLOAD, user="hugo", org="orleans", ts=NEW_TS + timedelta(seconds=1))
    with psycopg.connect(dsn) as conn:
        insert_buffer_rows(conn, "analytics", [*buffer_rows([line], "proxy.log", "text"), gateway])
    settings = ParserSettings(organisation_aliases={"orleans": ("Ville d'Orléans",)})
    summary = run_worker(dsn, settings)
    assert (summary.written, sum(summary.rejected.values())) == (2, 0), summary
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, source, org, org_name, download_format, download_format_requested FROM analytics.access_logs"
        ).fetchall()
    return {str(row[1]) if row[0] != "old" else "old": tuple(row[2:]) for row in rows}


@pytest.mark.parametrize("flavor", ["postgresql", pytest.param("timescaledb", marks=pytest.mark.timescale)])
def test_0006_adds_the_columns_to_stored_records_and_the_parse_job_fills_them(
    flavor: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn: str = request.getfixturevalue("pg_dsn" if flavor == "postgresql" else "timescale_dsn")
    _upgrade(dsn, flavor, monkeypatch)
    rows = _parse(dsn)
    assert rows["old"] == ("Ville d'Orléans", None, "shape-zip", None)  # history is not rewritten
    assert rows["security-proxy"] == ("orleans", "Ville d'Orléans", "shapefile", "SHAPE-ZIP")
    assert rows["gateway"] == ("orleans", "Ville d'Orléans", "shapefile", "SHAPE-ZIP")
