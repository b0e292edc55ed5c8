"""The rejects `db import-2x` stores: each holds the 2.x row it was made from (also when rows before it in the
batch were rejected before writing), with the client-address rule applied as the parse job applies it to its
own rejects (spec.parser.privacy.clientIp), under an id taken from the row as 2.x stored it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from georchestra_analytics.db.legacy_import import LEGACY_COLUMNS, Rules, _write_batch, legacy_id
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.ids import stable_id
from georchestra_analytics.parser.settings import ParserSettings

TS = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
FULL_ADDRESS = re.compile(r"198\.51\.100\.(?!0\b)\d+|2001:db8:7:[0-9a-f]")


def _row(oid: int, ts: datetime, path: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(LEGACY_COLUMNS)
    row.update(oid=oid, id=f"row-{oid}", ts=ts, app_name="geoserver", request_method="GET", request_path=path,
               status_code=200, roles=[], request_details={"service": "WMS", "request": "GetMap"},
               client_ip=f"198.51.100.{10 + oid}", ip=f"2001:db8:7:{oid}::1",
               message=f"GET {path} from 198.51.100.{10 + oid}")  # fmt: skip
    return row


@pytest.mark.parametrize("flavor", ["postgresql"])
def test_rejects_hold_their_own_row_with_addresses_truncated(pg_dsn: str, flavor: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor=flavor))  # type: ignore[arg-type]
    rows = [
        _row(1, datetime(1970, 1, 1, tzinfo=UTC), "/geoserver/wms"),  # outside the window: rejected before writing
        _row(2, TS, "/geoserver/wms"),
        _row(3, TS + timedelta(seconds=1), "/refused-by-the-database"),
        _row(4, TS + timedelta(seconds=2), "/geoserver/wms"),
    ]
    with psycopg.connect(pg_dsn) as conn:
        # A real refusal by the database, for one record: what `write_isolating` reports by position.
        conn.execute(
            "ALTER TABLE analytics.access_logs ADD CONSTRAINT no_refused CHECK (path <> '/refused-by-the-database')"
        )
        batch = _write_batch(conn, "analytics", rows, ParserSettings(), Rules.of(ParserSettings()))
        assert (batch.written, batch.rejected) == (2, 2)
        stored = conn.execute(
            "SELECT id, reason, raw, raw::text FROM analytics.rejected_logs ORDER BY raw->>'oid'"
        ).fetchall()
    by_oid = {int(raw["oid"]): (reject_id, reason, raw, text) for reject_id, reason, raw, text in stored}
    assert sorted(by_oid) == [1, 3]
    reject_id, reason, raw, _ = by_oid[3]
    assert reason.startswith("unstorable record: ")
    assert (raw["id"], raw["request_path"]) == ("row-3", "/refused-by-the-database")  # its own row, not row 2's
    for oid, (reject_id, _, raw, text) in by_oid.items():
        assert raw["client_ip"] == "198.51.100.0" and raw["ip"] == "2001:db8:7::"
        assert raw["message"].endswith("from 198.51.100.0")
        assert not FULL_ADDRESS.search(text), text
        assert reject_id == stable_id("reject", legacy_id(rows[oid - 1]))  # from the row as 2.x stored it
