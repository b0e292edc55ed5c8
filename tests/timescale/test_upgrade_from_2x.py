"""Upgrading a georchestra-analytics 2.x database (docs/upgrade-from-2x.md), on a real 2.0 schema filled with rows
shaped like its CLI's (tests/support/legacy_2x.py): `db migrate` refuses it before changing anything and `db
status` reports it; `db import-2x --in-place` moves it aside, imports every row (rows = records + rejects), parses
what its buffer held, refreshes the aggregates; a second run adds nothing; an interrupted run resumes; the
compatibility views answer 2.x's dashboard questions with 2.x's numbers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner
from psycopg import sql
from tests.support.legacy_2x import (
    BAD_CLOCK,
    BUFFERED_AT,
    SPAN,
    START,
    create_legacy_database,
    database_fingerprint,
)

from georchestra_analytics.cli import cli
from georchestra_analytics.db import legacy_import
from georchestra_analytics.db.aggregates import storage_name
from georchestra_analytics.db.legacy_import import (
    SOURCE,
    LegacyImportError,
    import_history,
    imported_counts,
    read_checkpoint,
)
from georchestra_analytics.db.migrate import LegacySchemaFound, migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.formats import canonical_format
from georchestra_analytics.parser.settings import ParserSettings

SETTINGS = DatabaseSettings(flavor="timescaledb", time_zone="Europe/Paris")  # 2.x's buckets are Paris time
ROWS, BUFFERED = 3000, 40


def _stack(tmp_path: Path, schema: str = "analytics", flavor: str = "timescaledb") -> str:
    manifest = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "georchestra"},
        "spec": {
            "timeZone": "Europe/Paris",
            "database": {
                "flavor": flavor,
                "schema": schema,
                "external": {
                    "host": "db.example.org",
                    "databaseName": "analytics",
                    "credentialsSecret": {"name": "db"},
                },
            },
        },
    }
    path = tmp_path / f"stack-{flavor}.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return str(path)


def _scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0]


def test_migrate_refuses_a_2x_schema_and_status_reports_it(timescale_dsn: str, tmp_path: Path) -> None:
    create_legacy_database(timescale_dsn, rows=50, buffered=2)
    before = database_fingerprint(timescale_dsn)

    with pytest.raises(LegacySchemaFound) as refused:
        migrate(timescale_dsn, SETTINGS)
    message = str(refused.value)
    assert "georchestra-analytics 2.x" in message and "nothing was changed" in message
    assert "db import-2x --in-place" in message and "--from-schema analytics" in message  # the ways forward
    assert "another schema" in message
    assert database_fingerprint(timescale_dsn) == before

    runner = CliRunner()
    result = runner.invoke(cli, ["db", "migrate", "--dsn", timescale_dsn, "-f", _stack(tmp_path)])
    assert result.exit_code == 1, result.output
    assert database_fingerprint(timescale_dsn) == before

    status = runner.invoke(cli, ["db", "status", "--dsn", timescale_dsn, "--json"])
    reported = json.loads(status.output)["legacy_2x"]
    assert reported["schema"] == "analytics"
    assert {"access_logs", "opentelemetry_buffer", "ogc_summary_hourly"} <= set(reported["relations"])
    assert "2.x data" in runner.invoke(cli, ["db", "status", "--dsn", timescale_dsn]).output


def _materialised_requests(conn: psycopg.Connection[Any], level: str) -> int:
    view = sql.Identifier("analytics", storage_name("usage", level))
    # Only what a refresh materialised: without this, real-time aggregation would add the raw rows on the fly.
    conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(view))
    try:
        return int(_scalar(conn, sql.SQL("SELECT coalesce(sum(requests), 0) FROM {}").format(view).as_string(conn)))
    finally:
        conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = false)").format(view))


def test_import_in_place_twice_gives_exact_counts(timescale_dsn: str, tmp_path: Path) -> None:
    legacy = create_legacy_database(timescale_dsn, rows=ROWS, buffered=BUFFERED)
    stack = _stack(tmp_path)
    runner = CliRunner()

    first = runner.invoke(cli, ["db", "import-2x", "--dsn", timescale_dsn, "-f", stack, "--in-place",
                                "--batch-size", "700"])  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "moved the 2.x schema 'analytics' aside to 'analytics_2x'" in first.output
    rows = legacy.rows  # the fixture's rows, two of them dated 1970 (refused by this project's window)
    assert f"2.x rows read this run: {rows} = {rows - 2} records ({rows - 2} new, 0 already imported) + 2 rejects" in (
        first.output
    )
    assert (
        f"2.x rows: {rows}; imported records: {rows - 2}; imported rejects: 2; rows = records + rejects: they match"
        in (first.output)
    )
    assert f"2.x buffer rows copied into the buffer for the parse job: {BUFFERED}" in first.output

    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        # The 2.x objects are only moved, never changed.
        assert _scalar(conn, "SELECT count(*) FROM analytics_2x.access_logs") == rows
        assert _scalar(conn, "SELECT count(*) FROM analytics_2x.opentelemetry_buffer") == BUFFERED
        assert _scalar(conn, "SELECT count(*) FROM analytics.otel_buffer") == 0  # parsed
        assert _scalar(conn, "SELECT count(*) FROM analytics.rejected_logs WHERE source = %s AND raw->>'ts' LIKE "
                             "'1970-%%'", SOURCE) == 2  # fmt: skip
        from_buffer = _scalar(conn, "SELECT count(*) FROM analytics.access_logs WHERE ts >= %s", BUFFERED_AT)
        buffer_rejects = _scalar(conn, "SELECT count(*) FROM analytics.rejected_logs WHERE source IS DISTINCT FROM %s",
                                 SOURCE)  # fmt: skip
        assert from_buffer + buffer_rejects == BUFFERED
        assert from_buffer > 0
        total = _scalar(conn, "SELECT count(*) FROM analytics.access_logs")
        # Downloads carry one canonical name per format, and the format as the request gave it.
        formats = conn.execute(
            "SELECT DISTINCT download_format, download_format_requested FROM analytics.access_logs"
            " WHERE source = %s AND is_download",
            (SOURCE,),
        ).fetchall()
        assert {canonical for canonical, _ in formats} == {"shapefile", "geojson", "csv", "excel"}
        assert all(requested and canonical_format(requested) == canonical for canonical, requested in formats)
        # Per-layer rows: one per (request, layer).
        assert _scalar(conn, "SELECT count(*) FROM analytics.access_log_layers") == _scalar(
            conn, "SELECT coalesce(sum(cardinality(layers)), 0) FROM analytics.access_logs"
        )
        # The aggregates were refreshed over the imported span: materialised, not computed on the fly.
        assert _materialised_requests(conn, "daily") == total

    status = runner.invoke(cli, ["db", "status", "--dsn", timescale_dsn, "-f", stack])
    assert f"2.x import: analytics_2x: {rows} rows read, finished" in status.output
    assert (
        json.loads(runner.invoke(cli, ["db", "status", "--dsn", timescale_dsn, "--json"]).output)["legacy_2x"] is None
    )

    second = runner.invoke(cli, ["db", "import-2x", "--dsn", timescale_dsn, "-f", stack, "--in-place"])
    assert second.exit_code == 0, second.output
    assert "2.x rows read this run: 0 = 0 records" in second.output
    assert "they match" in second.output
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _scalar(conn, "SELECT count(*) FROM analytics.access_logs") == total
        # Even read again from the start (no checkpoint), every record and reject is found stored.
        conn.execute("DELETE FROM analytics.legacy_imports")
    again = import_history(timescale_dsn, "analytics_2x", "analytics", ParserSettings(), batch_size=1000)
    assert (again.read, again.written, again.present, again.rejected, again.rejects_present) == (
        rows, 0, rows - 2, 0, 2)  # fmt: skip
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _scalar(conn, "SELECT count(*) FROM analytics.access_logs") == total

    dropped = runner.invoke(cli, ["db", "import-2x", "--dsn", timescale_dsn, "-f", stack, "--in-place",
                                  "--drop-source"])  # fmt: skip
    assert dropped.exit_code == 0, dropped.output
    assert "dropped analytics_2x.access_logs" in dropped.output
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'analytics_2x'") == 0
        assert _scalar(conn, "SELECT count(*) FROM analytics.access_logs") == total


def test_an_interrupted_import_resumes_where_it_stopped(timescale_dsn: str, tmp_path: Path) -> None:
    legacy = create_legacy_database(timescale_dsn, rows=1200, buffered=0, schema="old")
    migrate(timescale_dsn, SETTINGS)
    settings = ParserSettings()

    with psycopg.connect(timescale_dsn, autocommit=True) as other:  # another import of the same target running
        other.execute("SELECT pg_advisory_lock(hashtextextended('import-2x analytics', 0))")
        with pytest.raises(LegacyImportError, match="another `db import-2x` into 'analytics' is running"):
            import_history(timescale_dsn, "old", "analytics", settings, batch_size=250)

    interrupted = import_history(timescale_dsn, "old", "analytics", settings, batch_size=250, max_batches=2)
    assert interrupted.read == 500 and not interrupted.refreshed
    resumed = import_history(timescale_dsn, "old", "analytics", settings, batch_size=250)
    assert resumed.already_read == 500
    assert resumed.read == legacy.rows - 500
    assert interrupted.written + resumed.written == legacy.rows - 2
    assert resumed.refreshed  # over the whole span, the first run's part included
    counts = imported_counts(timescale_dsn, "old", "analytics")
    assert counts.matching and counts.rejects == 2

    # Without --drop-source, and while counts do not match, the 2.x tables stay.
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM analytics.rejected_logs WHERE source = %s", (SOURCE,))
    result = CliRunner().invoke(cli, ["db", "import-2x", "--dsn", timescale_dsn, "-f", _stack(tmp_path),
                                      "--from-schema", "old", "--drop-source"])  # fmt: skip
    assert result.exit_code == 1
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _scalar(conn, "SELECT count(*) FROM old.access_logs") == legacy.rows


# The 2.x dashboard questions, as its charts ask them of ogc_summary_* (the schema is the only difference), and
# every row of every level (but app_id, which was 2.x's application path).
_ROW = ("app_name, user_name, org_name, request_method, status_code, server_address, workspaces, layers, service,"
        " request, tiled, is_download, download_format, user_agent_family, referrer, nb_req, response_time_median,"
        " response_time_min, response_time_max")  # fmt: skip
QUESTIONS = {
    "requests per day": "SELECT bucket_daily, sum(nb_req) FROM {s}.ogc_summary_daily WHERE {daily} GROUP BY 1",
    "requests per layer": "SELECT workspaces, layers, sum(nb_req) FROM {s}.ogc_summary_daily WHERE {daily}"
    " GROUP BY 1, 2",
    "requests per user": "SELECT user_name, sum(nb_req) FROM {s}.ogc_summary_daily WHERE {daily} GROUP BY 1",
    "requests per organisation": "SELECT org_name, sum(nb_req) FROM {s}.ogc_summary_daily WHERE {daily} GROUP BY 1",
    "downloads per format": "SELECT download_format, sum(nb_req) FROM {s}.ogc_summary_daily WHERE {daily}"
    " AND is_download = 'true' GROUP BY 1",
    "requests per service and operation": "SELECT service, request, sum(nb_req) FROM {s}.ogc_summary_monthly"
    " WHERE {monthly} GROUP BY 1, 2",
    "median response time by day and layer": "SELECT bucket_daily, layers, response_time_median"
    " FROM {s}.ogc_summary_daily WHERE {daily}",
    "every hourly row": f"SELECT bucket_hourly, {_ROW} FROM {{s}}.ogc_summary_hourly WHERE {{hourly}}",
    "every daily row": f"SELECT bucket_daily, {_ROW} FROM {{s}}.ogc_summary_daily WHERE {{daily}}",
    "every monthly row": f"SELECT bucket_monthly, {_ROW} FROM {{s}}.ogc_summary_monthly WHERE {{monthly}}",
}


# Where an answer names download formats: 2.x named them by its labels (Excel, Shapefile, JSON), this project by
# one canonical name per format (docs/classification.md), so 2.x's answer is read through that table.
FORMAT_COLUMN = {"downloads per format": 0, "every hourly row": 13, "every daily row": 13, "every monthly row": 13}


def test_an_import_whose_refresh_failed_refreshes_on_the_next_run(
    timescale_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = create_legacy_database(timescale_dsn, rows=300, buffered=0, schema="old")
    migrate(timescale_dsn, SETTINGS)
    settings = ParserSettings()

    def failing(*_args: Any, **_kwargs: Any) -> list[str]:  # a fault the real refresh cannot be made to raise
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as faulty:
        faulty.setattr(legacy_import, "refresh_aggregates", failing)
        with pytest.raises(psycopg.OperationalError):
            import_history(timescale_dsn, "old", "analytics", settings, batch_size=100)
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert not read_checkpoint(conn, "analytics", "old").finished
        assert _materialised_requests(conn, "daily") == 0
    again = import_history(timescale_dsn, "old", "analytics", settings, batch_size=100)
    assert (again.read, again.written) == (0, 0)
    assert again.refreshed  # the refresh the first run did not finish
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert read_checkpoint(conn, "analytics", "old").finished
        assert _materialised_requests(conn, "daily") == legacy.rows - 2  # the 1970 rows are rejects
    assert not import_history(timescale_dsn, "old", "analytics", settings).refreshed  # finished: nothing to redo


def _in_canonical_names(question: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    column = FORMAT_COLUMN.get(question)
    if column is None:
        return rows
    named = [(*row[:column], canonical_format(row[column]), *row[column + 1 :]) for row in rows]
    return sorted(named, key=repr)


def _answer(conn: psycopg.Connection[Any], schema: str, question: str) -> list[tuple[Any, ...]]:
    # The imported period only: the 1970 rows are rejects here, and the buffer's rows came after 2.x stopped, in a
    # later month.
    periods = {
        level: sql.SQL("{bucket} > {first} AND {bucket} < {last}").format(
            bucket=sql.Identifier(f"bucket_{level}"),
            first=sql.Literal(BAD_CLOCK + timedelta(days=40)),
            last=sql.Literal(START + SPAN if level == "monthly" else BUFFERED_AT - timedelta(days=2)),
        )
        for level in ("hourly", "daily", "monthly")
    }
    query = sql.SQL(QUESTIONS[question]).format(s=sql.Identifier(schema), **periods)
    return sorted(conn.execute(query).fetchall(), key=repr)


@pytest.mark.parametrize("flavor", ["timescaledb", "postgresql"])
def test_compatibility_views_give_2x_answers(timescale_dsn: str, tmp_path: Path, flavor: str) -> None:
    """On both flavors of the new schema (2.x itself always ran on TimescaleDB)."""
    create_legacy_database(timescale_dsn, rows=ROWS, buffered=BUFFERED)
    stack = _stack(tmp_path, flavor=flavor)
    result = CliRunner().invoke(cli, ["db", "import-2x", "--dsn", timescale_dsn, "-f", stack, "--in-place"])
    assert result.exit_code == 0, result.output
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        for question in QUESTIONS:
            answer_2x = _in_canonical_names(question, _answer(conn, "analytics_2x", question))
            assert len(answer_2x) > 1, question
            assert _answer(conn, "analytics", question) == answer_2x, question
        # The grain is 2.x's: a request naming two layers counts once, its layers joined as 2.x wrote them.
        assert _scalar(conn, "SELECT count(*) FROM analytics.ogc_summary_hourly WHERE layers LIKE '%%,%%'") > 0
        total_2x = _scalar(conn, "SELECT sum(nb_req) FROM analytics_2x.ogc_summary_monthly WHERE bucket_monthly > %s",
                           BAD_CLOCK + timedelta(days=40))  # fmt: skip
        ogc_records = _scalar(conn, "SELECT count(*) FROM analytics.access_logs WHERE service IS NOT NULL AND ts < %s",
                              BUFFERED_AT)  # fmt: skip
        assert total_2x == ogc_records


HOSTILE = 'old"2x; DROP SCHEMA public CASCADE; --'


def test_hostile_schema_names_are_quoted(timescale_dsn: str, tmp_path: Path) -> None:
    legacy = create_legacy_database(timescale_dsn, rows=300, buffered=5, schema=HOSTILE)
    result = CliRunner().invoke(
        cli,
        ["db", "import-2x", "--dsn", timescale_dsn, "-f", _stack(tmp_path), "--from-schema", HOSTILE, "--drop-source"],
    )
    assert result.exit_code == 0, result.output
    assert f"2.x rows: {legacy.rows}; imported records: {legacy.rows - 2}; imported rejects: 2" in result.output
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", HOSTILE) == 0  # dropped
        assert _scalar(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'") == 1
        assert _scalar(conn, "SELECT count(*) FROM analytics.legacy_imports WHERE source_schema = %s", HOSTILE) == 1
