"""The demo: its report equals SQL over the same data, and the command runs end to end.

The report reads the dashboards' views (aggregates, histograms); the checks below read the raw tables with
plain GROUP BY, so a wrong aggregate, view or rollup shows as a difference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from georchestra_analytics.db.histogram import UPPER_BOUNDS_MS, bucket_range
from georchestra_analytics.demo import run
from georchestra_analytics.demo.report import TOP, UsageReport
from georchestra_analytics.demo.sample import Sample, generate, platform

SCHEMA = run.SCHEMA
RECORDS = 4000


def _run_pipeline(dsn: str, flavor: str) -> tuple[Sample, UsageReport]:
    run.migrate_schema(dsn, flavor)  # type: ignore[arg-type]
    sample = generate(seed=11, records=RECORDS)
    ingested = run.ingest(dsn, sample.buffer_rows())
    assert ingested == len(sample)
    summary = run.parse(dsn)
    assert summary.claimed == len(sample)
    run.refresh(dsn, sample)
    return sample, run.report(dsn)


@pytest.fixture(params=["postgresql", "timescaledb"])
def flavor_dsn(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Both flavors: rollup tables maintained by the parse job, and continuous aggregates."""
    flavor: str = request.param
    fixture = "pg_dsn" if flavor == "postgresql" else "timescale_dsn"
    yield flavor, request.getfixturevalue(fixture)


def _query(dsn: str, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(text).fetchall()  # type: ignore[arg-type]  # fixed test SQL, no parameters


def _containing_bucket(value: float) -> tuple[int, int | None]:
    """[lower, upper) of the histogram bucket holding a raw response time."""
    index = sum(1 for bound in UPPER_BOUNDS_MS if bound <= value)
    return bucket_range(index)


def test_report_equals_sql_over_the_same_data(flavor_dsn: tuple[str, str]) -> None:
    flavor, dsn = flavor_dsn
    sample, report = _run_pipeline(dsn, flavor)

    # Nothing lost: every generated request is a record or a reject kept with its reason.
    rejected = sum(count for _, count in run.rejected_rows(dsn))
    assert report.totals.requests + rejected == len(sample)
    assert run.buffered_rows(dsn) == 0

    [totals] = _query(
        dsn,
        "SELECT count(*), count(*) FILTER (WHERE status >= 400), coalesce(sum(response_size), 0),"
        ' count(*) FILTER (WHERE "user" IS NOT NULL), count(DISTINCT "user"), count(DISTINCT org)'
        " FROM analytics.access_logs",
    )
    [(layers,)] = _query(dsn, "SELECT count(DISTINCT layer) FROM analytics.access_log_layers")
    got = report.totals
    assert (got.requests, got.errors, got.bytes, got.signed_in_requests, got.users, got.organisations) == totals
    assert got.layers == layers

    top_layers = _query(
        dsn,
        "SELECT layer, workspace, count(*), count(*) FILTER (WHERE is_download) FROM analytics.access_log_layers"
        f" GROUP BY layer, workspace ORDER BY 3 DESC, layer, workspace NULLS FIRST LIMIT {TOP}",
    )
    assert [(r.layer, r.workspace, r.requests, r.downloads) for r in report.top_layers] == top_layers

    organisations = _query(
        dsn,
        'SELECT org, count(*), count(*) FILTER (WHERE status >= 400), count(DISTINCT "user")'
        f" FROM analytics.access_logs GROUP BY org ORDER BY 2 DESC, org NULLS FIRST LIMIT {TOP}",
    )
    assert [(r.org, r.requests, r.errors, r.users) for r in report.organisations] == organisations

    downloads = _query(
        dsn,
        "SELECT download_format, count(*), coalesce(sum(response_size), 0) FROM analytics.access_logs"
        " WHERE is_download GROUP BY download_format ORDER BY 2 DESC, download_format NULLS LAST",
    )
    assert [(r.download_format, r.requests, r.bytes) for r in report.downloads] == downloads

    applications = _query(
        dsn,
        "SELECT app, count(*), count(*) FILTER (WHERE status >= 400) FROM analytics.access_logs"
        " GROUP BY app ORDER BY 2 DESC, app NULLS LAST",
    )
    assert [(r.app, r.requests, r.errors) for r in report.applications] == applications

    daily = _query(
        dsn,
        "SELECT (ts AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE status >= 400)"
        " FROM analytics.access_logs GROUP BY 1 ORDER BY 1",
    )
    assert [(r.day, r.requests, r.errors) for r in report.daily] == daily

    # Where users look: per layer row with an extent at most 2 degrees across, by the 0.1-degree cell of its
    # centre, all layers together (docs/classification.md#extents).
    extents = _query(
        dsn,
        "SELECT floor((extent_west + extent_east) * 5)::int AS x, floor((extent_south + extent_north) * 5)::int AS y,"
        " count(*) FROM analytics.access_log_layers"
        " WHERE extent_east - extent_west <= 2 AND extent_north - extent_south <= 2 GROUP BY 1, 2",
    )
    assert len(extents) > 20  # the sample's views spread over the territory's towns
    assert {(round(r.lon * 10 - 0.5), round(r.lat * 10 - 0.5), r.requests) for r in report.extents} == set(extents)
    busiest = max(report.extents, key=lambda cell: cell.requests)
    assert 0 < busiest.lon < 3 and 46.5 < busiest.lat < 49  # in Centre-Val de Loire, where the sample's users look

    # Who: robots apart, then the people's countries and client applications (docs/classification.md).
    [(robot_requests,)] = _query(dsn, "SELECT count(*) FILTER (WHERE is_robot) FROM analytics.access_logs")
    assert (report.audience.requests, report.audience.robot_requests) == (totals[0], robot_requests)
    assert 0 < report.audience.robot_share < 0.2
    for column, kind, rows in (
        ("robot_family", "is_robot", report.audience.robots),
        ("country", "NOT is_robot", report.audience.countries),
        ("client_app", "NOT is_robot", report.audience.client_apps),
    ):
        expected = _query(
            dsn,
            f"SELECT {column}, count(*) FROM analytics.access_logs WHERE {kind}"
            f" GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST LIMIT {TOP}",
        )
        assert [(r.name, r.requests) for r in rows] == expected, column
    assert {"Googlebot", "bingbot", "GeoHealthCheck"} <= {r.name for r in report.audience.robots}
    assert report.audience.countries[0].name == "FR"  # the sample's clients are mostly French networks
    assert {"QGIS", "MapStore", "MapStore: urbanisme", "python-requests"} <= {
        r.name for r in report.audience.client_apps
    }

    services = _query(
        dsn,
        "SELECT service, count(*), count(*) FILTER (WHERE status >= 400), count(response_time_ms),"
        " percentile_disc(0.5) WITHIN GROUP (ORDER BY response_time_ms),"
        " percentile_disc(0.95) WITHIN GROUP (ORDER BY response_time_ms)"
        " FROM analytics.access_logs GROUP BY service ORDER BY 2 DESC, service NULLS LAST",
    )
    assert [(r.service, r.requests, r.errors, r.timed) for r in report.services] == [row[:4] for row in services]
    for service, row in zip(report.services, services, strict=True):
        # Percentiles from histograms are exact to within one bucket: the bucket of the exact value.
        for estimate, exact in ((service.p50_ms, row[4]), (service.p95_ms, row[5])):
            if exact is None:
                assert estimate is None
                continue
            lower, upper = _containing_bucket(exact)
            assert estimate is not None
            assert lower <= estimate <= (upper if upper is not None else lower), (service.service, estimate, exact)


def test_sample_names_survive_the_pipeline(pg_dsn: str) -> None:
    """Organisation display names with accents, apostrophes, guillemets and an ampersand come out as they went
    in, beside the key the report groups by."""
    _, report = _run_pipeline(pg_dsn, "postgresql")
    [(names,)] = _query(pg_dsn, "SELECT array_agg(DISTINCT org_name) FROM analytics.access_logs")
    assert "Ville d'Orléans" in names
    assert "Bureau d'études « Géo & Eau »" in names
    [(keys,)] = _query(pg_dsn, "SELECT array_agg(DISTINCT org) FROM analytics.access_logs")
    assert {r.org for r in report.organisations} <= {*keys, None}


def test_the_report_shows_each_organisation_once(pg_dsn: str) -> None:
    """The Gateway logs short ids, the security-proxy display names: the report counts 7 organisations, not 14,
    under their ids, each with one display name."""
    _, report = _run_pipeline(pg_dsn, "postgresql")
    organisations = {org["id"]: org["name"] for org in platform()["organisations"]}
    assert report.totals.organisations == len(organisations) == 7
    assert {r.org for r in report.organisations} == {*organisations, None}  # None: anonymous visitors
    pairs = _query(pg_dsn, "SELECT DISTINCT org, org_name FROM analytics.access_logs WHERE org IS NOT NULL")
    assert dict(pairs) == organisations and len(pairs) == 7


def _demo(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    command = [sys.executable, "-m", "georchestra_analytics", "demo", "--json", "--records", "1500", *args]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), result.stderr


def test_demo_command_runs_end_to_end(tmp_path: Path) -> None:
    document, _ = _demo(tmp_path, "--html", "report/usage.html")
    sample = document["sample"]
    total = sample["gateway_rows"] + sample["security_proxy_lines"]
    rejected = sum(item["count"] for item in document["rejected"])
    assert document["report"]["totals"]["requests"] + rejected == total
    assert document["parse"]["claimed"] == total
    assert document["report"]["top_layers"] and document["report"]["services"] and document["report"]["downloads"]
    assert document["dsn"] is None  # not kept
    html = Path(document["html"]).read_text(encoding="utf-8")
    assert html == (tmp_path / "report" / "usage.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 5
    assert "Where users look" in html and document["report"]["extents"]
    for heading in ("Robots", "Top countries", "Client applications"):
        assert f"<h2>{heading}</h2>" in html
    assert document["report"]["audience"]["robots"] and document["report"]["audience"]["countries"]
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_demo_keep_leaves_a_database_to_point_superset_at(tmp_path: Path) -> None:
    document, stderr = _demo(tmp_path, "--keep", "--no-html")
    try:
        assert document["dsn"] in stderr  # printed for people too
        assert document["html"] is None
        with psycopg.connect(document["dsn"]) as conn:
            row = conn.execute("SELECT sum(requests) FROM analytics.usage_daily").fetchone()
        assert row is not None and row[0] == document["report"]["totals"]["requests"]
    finally:
        for command in document["stop_commands"]:
            subprocess.run(command, shell=True, check=True, timeout=60)  # noqa: S602 (the demo's own commands)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(document["dsn"], connect_timeout=3)


def test_every_step_quotes_the_schema_name(pg_dsn: str) -> None:
    """Identifiers go through psycopg's sql module: a hostile schema name is just a name."""
    schema = 'demo"; DROP TABLE x; --é'
    run.migrate_schema(pg_dsn, "postgresql", schema)
    sample = generate(seed=2, records=300)
    assert run.ingest(pg_dsn, sample.buffer_rows(), schema) == len(sample)
    run.parse(pg_dsn, schema=schema)
    run.refresh(pg_dsn, sample, schema)
    report = run.report(pg_dsn, schema)
    rejected = sum(count for _, count in run.rejected_rows(pg_dsn, schema))
    assert report.totals.requests + rejected == len(sample)
    assert run.buffered_rows(pg_dsn, schema) == 0
