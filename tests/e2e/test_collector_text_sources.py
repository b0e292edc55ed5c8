"""The collector's text sources in the real Vector: access-log files (with rotation and gzip) and syslog.

The configuration is what `render_vector_config` gives for the stack, run by the real Vector binary on loopback
ports (tests/support/collector.py); the lines are written to real files in the spec's `collector.files.paths`
and sent over real syslog sockets the way nginx sends them (`access_log syslog:server=...,tag=nginx combined;`).
Every line must reach the buffer exactly once, and the parse job's records must be those that `ingest` + parse
give for the same lines. Record ids differ between the two paths by design (a collected file line is named by
its file and byte offset, a syslog message by a random id, an ingested line by its file's name, text and
occurrence: docs/backfill.md), so the records are compared on every other column.

Rotation and gzip, as Vector 0.55 does them: a file is known by a checksum of its first line (of the
decompressed content for a gzip file, which Vector recognises by its magic bytes, not its name), so a renamed
file is followed under its new name, and a gzip file whose first line has a checkpoint is not read at all. With
logrotate's `compress` + `delaycompress` the patterns may match the archives (`access.log*`): the history on the
volume is read once, and an archive of a file already read adds nothing. That holds while the checkpoints
survive; without them (a restart without the data directory) a renamed file is read again under a new name.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from psycopg.rows import dict_row
from tests.support import buffer_records as br
from tests.support.accesslogs import QGIS, combined_line, proxy_line
from tests.support.buffer_records import analytics_stack
from tests.support.collector import RunningCollector, run_collector, wait_for
from tests.support.vector_binary import VectorBinary

from georchestra_analytics.render.vector import render_vector_config
from georchestra_analytics.stack import AnalyticsStack

SCHEMA = "analytics"
START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
# How long to keep watching after the last line arrived: Vector looks for new files every second, so a file it
# would read twice (a rotated or compressed copy) shows up well within this.
SETTLE_SECONDS = 4.0
FILE_PATTERNS = ["nginx/access.log*", "security-proxy/access.log*"]


def text_stack(flavor: str, collector: dict[str, Any]) -> AnalyticsStack:
    return analytics_stack(flavor, {"replicas": 1, **collector})[0]


@pytest.fixture(params=["postgresql", "timescaledb"])
def flavor_dsn(request: pytest.FixtureRequest) -> tuple[str, str]:
    fixture = "timescale_dsn" if request.param == "timescaledb" else "pg_dsn"
    return request.param, str(request.getfixturevalue(fixture))


def buffer_rows(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {SCHEMA}.otel_buffer".encode()).fetchall()


def stored_records(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {SCHEMA}.access_logs".encode()).fetchall()


def ingest(dsn: str, files: list[Path]) -> dict[str, Any]:
    """The real `georchestra-analytics ingest` command."""
    command = [sys.executable, "-m", "georchestra_analytics", "--log-level", "warning", "ingest", "--dsn", dsn,
               "--json", *map(str, files)]  # fmt: skip
    answer = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert answer.returncode == 0, answer.stderr
    result: dict[str, Any] = json.loads(answer.stdout)
    return result


def comparable(record: dict[str, Any]) -> str:
    """A record without its id, as one hashable value (lists and JSON included)."""
    return json.dumps({key: value for key, value in record.items() if key != "id"}, sort_keys=True, default=str)


def assert_same_records_as_ingest(
    dsn: str, stack: AnalyticsStack, collected: list[dict[str, Any]], files: list[Path]
) -> None:
    """`ingest` + parse of `files` gives records equal to `collected` on every column but the id."""
    # Records are unique by (ts, id), as the table's key. A collected file line's id alone is not unique: it
    # is its path and offset, which the next `access.log` after a rotation uses again (at another time).
    assert len({(record["ts"], record["id"]) for record in collected}) == len(collected)
    collected_ids = {record["id"] for record in collected}
    ingest(dsn, files)
    summary = br.parse_job(dsn, stack)
    assert summary.written == len(collected), "the ingested lines are new records: their ids differ by design"
    assert summary.duplicates == 0 and not summary.rejected
    ingested = [record for record in stored_records(dsn) if record["id"] not in collected_ids]
    assert len(ingested) == len(collected)
    assert Counter(map(comparable, ingested)) == Counter(map(comparable, collected))


# -- lines as the web servers write them --------------------------------------------------------------------


def nginx_lines(first: int, count: int) -> list[str]:
    """nginx `combined` lines, one second apart from START + first seconds, a few kinds of request."""
    lines = []
    for n in range(first, first + count):
        ts = START + dt.timedelta(seconds=n)
        if n % 3 == 0:
            path = f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ne:countries&TILEROW={n}&TILECOL=7"
            lines.append(combined_line(path, ts=ts, agent=QGIS, size=18233))
        elif n % 3 == 1:
            path = "/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp:states&BBOX=-10,40,0,50&WIDTH=256&HEIGHT=256"
            lines.append(combined_line(path, ts=ts, referrer="https://georchestra.example.org/mapstore/"))
        else:
            lines.append(combined_line(f"/geonetwork/srv/api/records/{n}", ts=ts, status=404, ip="203.0.113.9"))
    return lines


def proxy_lines(first: int, count: int) -> list[str]:
    """security-proxy lines: authenticated and anonymous, one second apart."""
    lines = []
    for n in range(first, first + count):
        ts = START + dt.timedelta(seconds=n)
        url = f"http://geoserver:8080/geoserver/wfs?SERVICE=WFS&REQUEST=GetFeature&typeNames=sf:roads&count={n}"
        if n % 2:
            lines.append(proxy_line(url, ts=ts, user="testuser", org="PSC", roles=["ROLE_USER"], millis=40 + n))
        else:
            lines.append(proxy_line(url, ts=ts, millis=12))
    return lines


class AccessLog:
    """A web server's access log under logrotate with `compress` + `delaycompress` (Debian's nginx default):
    at each rotation `access.log.N.gz` become `.N+1.gz`, the previous `access.log.1` is gzipped into
    `access.log.2.gz`, `access.log` is renamed `access.log.1` and a new one is created. The server keeps writing
    to the renamed file until it reopens its log (nginx's USR1 in `postrotate`)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / "access.log"
        self.handle: IO[str] = self.path.open("a", buffering=1)
        self.written: list[str] = []

    def write(self, lines: list[str]) -> None:
        for line in lines:
            self.handle.write(line + "\n")
        self.written.extend(lines)

    def rotate(self) -> None:
        """Rename the live file (the server still writes to it until `reopen`)."""
        archives = sorted(self.folder.glob("access.log.*.gz"), key=lambda p: -int(p.name.split(".")[2]))
        for archive in archives:
            number = int(archive.name.split(".")[2])
            archive.rename(self.folder / f"access.log.{number + 1}.gz")
        previous = self.folder / "access.log.1"
        if previous.exists():
            # gzip writes a new file (a new inode) and removes the original
            with previous.open("rb") as source, gzip.open(self.folder / "access.log.2.gz", "wb") as target:
                shutil.copyfileobj(source, target)
            previous.unlink()
        self.path.rename(previous)

    def reopen(self) -> None:
        """nginx's USR1: close the renamed file, write to a new `access.log` from now on."""
        self.handle.close()
        self.handle = self.path.open("a", buffering=1)

    def close(self) -> None:
        self.handle.close()


def write_gzip(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as out:
        out.writelines(line + "\n" for line in lines)


def arrived(dsn: str, expected: int) -> Callable[[], bool]:
    return lambda: br.count(dsn) >= expected


def settle_then_stop(collector: RunningCollector, dsn: str, expected: int) -> None:
    """Wait for `expected` rows, keep watching a while for extra ones, then stop Vector (which flushes)."""
    wait_for(arrived(dsn, expected), 60, f"{expected} rows in the buffer")
    time.sleep(SETTLE_SECONDS)
    assert collector.stop() == 0, collector.log_tail()


# -- files ----------------------------------------------------------------------------------------------------


@pytest.fixture
def files_collector(
    flavor_dsn: tuple[str, str], vector_bin: VectorBinary, tmp_path: Path
) -> Iterator[tuple[AnalyticsStack, str, RunningCollector]]:
    flavor, dsn = flavor_dsn
    stack = text_stack(flavor, {"files": {"claimName": "logs", "paths": FILE_PATTERNS, "logFormat": "combined"}})
    br.prepare(dsn, stack)
    rendered = render_vector_config(stack)
    with run_collector(vector_bin, rendered, dsn, tmp_path / "collector") as collector:
        yield stack, dsn, collector


def test_files_with_rotation_and_gzip_count_every_line_once(
    files_collector: tuple[AnalyticsStack, str, RunningCollector], tmp_path: Path
) -> None:
    stack, dsn, collector = files_collector
    nginx_dir = collector.files_dir / "nginx"
    # History already on the volume when the collector first sees it, compressed by an earlier rotation.
    history = nginx_lines(0, 12)
    write_gzip(nginx_dir / "access.log.2.gz", history)
    nginx = AccessLog(nginx_dir)
    proxy = AccessLog(collector.files_dir / "security-proxy")
    nginx.write(nginx_lines(100, 15))
    # The same tile twice in one second: two requests, two lines.
    proxy.write(proxy_lines(200, 10) + proxy_lines(210, 1) * 2)
    wait_for(arrived(dsn, 12 + 15 + 12), 60, "the history, the live nginx and proxy files")

    # First rotation: the live file renamed while nginx still writes into it, then reopened.
    nginx.rotate()
    nginx.write(nginx_lines(115, 5))
    nginx.reopen()
    nginx.write(nginx_lines(120, 10))
    wait_for(arrived(dsn, 12 + 30 + 12), 60, "the lines around the first rotation")
    # Second rotation: access.log.1 (read to its end) is now compressed into access.log.2.gz (a new file with
    # the same content) and the history moves on to access.log.4.gz; neither may be read again.
    nginx.rotate()
    nginx.reopen()
    nginx.write(nginx_lines(130, 8))
    proxy.write(proxy_lines(220, 4))
    nginx.close()
    proxy.close()
    expected = history + nginx.written + proxy.written
    settle_then_stop(collector, dsn, len(expected))

    assert sorted(p.name for p in nginx_dir.iterdir()) == ["access.log", "access.log.1", "access.log.2.gz",
                                                           "access.log.4.gz"]  # fmt: skip
    rows = buffer_rows(dsn)
    print(f"{len(expected)} lines written, {len(rows)} buffer rows")
    assert Counter(row["message"] for row in rows) == Counter(expected), "a line is missing or was read twice"
    assert {row["source_type"] for row in rows} == {"file"}
    paths = Counter(
        Path(row["attributes"]["log.file.path"]).relative_to(collector.files_dir).as_posix() for row in rows
    )
    # A line is named by the path Vector read it under: the history under its first name, the rotated file's
    # tail under its new one.
    # (The 5 lines written into the renamed file are named after whichever of its names Vector knew then.)
    assert paths["nginx/access.log.2.gz"] == 12 and paths["security-proxy/access.log"] == 16
    assert paths["nginx/access.log"] + paths["nginx/access.log.1"] == 38
    assert set(paths) <= {
        "nginx/access.log",
        "nginx/access.log.1",
        "nginx/access.log.2.gz",
        "security-proxy/access.log",
    }
    assert all(row["attributes"]["log.format"] == "combined" for row in rows)

    summary = br.parse_job(dsn, stack)
    assert (summary.claimed, summary.written, summary.duplicates) == (len(expected), len(expected), 0)
    assert not summary.rejected and br.count(dsn, "rejected_logs") == 0
    collected = stored_records(dsn)
    assert len(collected) == len(expected)
    assert Counter(record["source"] for record in collected) == {"combined": 12 + 38, "security-proxy": 16}
    tile_requests = [record for record in collected if record["request"] == "gettile"]
    assert {record["layers"][0] for record in tile_requests} == {"ne:countries"}
    twice = [record for record in collected if record["ts"] == START + dt.timedelta(seconds=210)]
    assert len(twice) == 2 and twice[0]["id"] != twice[1]["id"]

    # The same lines loaded by `ingest`, one file per log, give the same records but for their ids.
    backfill = tmp_path / "backfill"
    backfill.mkdir()
    (backfill / "nginx-access.log").write_text("".join(line + "\n" for line in history + nginx.written))
    write_gzip(backfill / "proxy-access.log.gz", proxy.written)
    assert_same_records_as_ingest(dsn, stack, collected, sorted(backfill.iterdir()))


@pytest.mark.parametrize("flavor_dsn", ["postgresql"], indirect=True)  # the flavor changes nothing here
def test_a_restart_reads_no_file_again(
    files_collector: tuple[AnalyticsStack, str, RunningCollector],
) -> None:
    # The checkpoints in the data directory (the volume of each collector pod with a files source) carry over
    # a restart: nothing is read twice, and lines written while the collector was down are read once it is back.
    stack, dsn, collector = files_collector
    nginx = read_history_and_stop(collector, dsn)
    nginx.write(nginx_lines(20, 5))
    nginx.rotate()
    nginx.reopen()
    nginx.write(nginx_lines(30, 3))
    nginx.close()
    collector.start()
    settle_then_stop(collector, dsn, 14 + 8)
    rows = buffer_rows(dsn)
    expected = nginx_lines(0, 6) + nginx.written
    assert Counter(row["message"] for row in rows) == Counter(expected)
    summary = br.parse_job(dsn, stack)
    assert (summary.written, summary.duplicates, sum(summary.rejected.values())) == (len(expected), 0, 0)


def read_history_and_stop(collector: RunningCollector, dsn: str) -> AccessLog:
    """A compressed history (6 lines) and a live file (8 lines) read, then the collector stopped."""
    write_gzip(collector.files_dir / "nginx" / "access.log.2.gz", nginx_lines(0, 6))
    nginx = AccessLog(collector.files_dir / "nginx")
    nginx.write(nginx_lines(10, 8))
    wait_for(arrived(dsn, 14), 60, "14 rows")
    assert collector.stop() == 0
    return nginx


def forget_checkpoints(collector: RunningCollector) -> None:
    """What a restart does to a collector whose data directory did not survive (its volume lost)."""
    data = collector.workdir / "data"
    shutil.rmtree(data)
    data.mkdir()


@pytest.mark.parametrize("flavor_dsn", ["postgresql"], indirect=True)  # the flavor changes nothing here
def test_a_restart_without_checkpoints_reads_again_and_the_ids_collapse_it(
    files_collector: tuple[AnalyticsStack, str, RunningCollector],
) -> None:
    stack, dsn, collector = files_collector
    nginx = read_history_and_stop(collector, dsn)
    forget_checkpoints(collector)
    nginx.write(nginx_lines(20, 2))
    nginx.close()
    collector.start()
    settle_then_stop(collector, dsn, 14 + 14 + 2)
    # Everything was read again from the beginning, under the same names and offsets: the same ids.
    assert br.count(dsn) == 30
    summary = br.parse_job(dsn, stack)
    assert (summary.written, summary.duplicates, sum(summary.rejected.values())) == (16, 14, 0)


@pytest.mark.xfail(
    reason="known limit: a collector that lost its checkpoints (its data volume deleted; the operator keeps them "
    "on a volume per replica) reads a rotated file again under its new name; a file line is named by its path, "
    "offset and text, so those lines are new records (counted twice)",
    strict=False,
)
@pytest.mark.parametrize("flavor_dsn", ["postgresql"], indirect=True)  # the flavor changes nothing here
def test_a_restart_without_checkpoints_after_a_rotation_counts_every_line_once(
    files_collector: tuple[AnalyticsStack, str, RunningCollector],
) -> None:
    stack, dsn, collector = files_collector
    nginx = AccessLog(collector.files_dir / "nginx")
    nginx.write(nginx_lines(10, 8))
    wait_for(arrived(dsn, 8), 60, "8 rows")
    assert collector.stop() == 0
    forget_checkpoints(collector)
    nginx.rotate()
    nginx.reopen()
    nginx.write(nginx_lines(20, 3))
    nginx.close()
    collector.start()
    settle_then_stop(collector, dsn, 8 + 8 + 3)
    summary = br.parse_job(dsn, stack)
    print(f"{len(nginx.written)} lines, {summary.written} records, {summary.duplicates} recognised as replays")
    assert summary.written == len(nginx.written)


# -- syslog ---------------------------------------------------------------------------------------------------


def nginx_syslog(line: str, at: dt.datetime) -> bytes:
    """What nginx sends for `access_log syslog:server=...,tag=nginx combined;`: RFC 3164, facility local7,
    severity info, no trailing newline (one message per datagram)."""
    return f"<190>{at:%b} {at.day:>2} {at:%H:%M:%S} web-1 nginx: {line}".encode()


def rfc5424(line: str, at: dt.datetime, app: str) -> bytes:
    """RFC 5424, as rsyslog or syslog-ng forward it over TCP (one message per line)."""
    return f"<190>1 {at.isoformat().replace('+00:00', 'Z')} web-2 {app} - - - {line}\n".encode()


@pytest.mark.parametrize(
    ("mode", "flavor"), [("udp", "postgresql"), ("tcp", "postgresql"), ("tcp", "timescaledb")], ids=str
)
def test_syslog_lines_become_the_records_ingest_gives(
    mode: str, flavor: str, vector_bin: VectorBinary, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dsn = str(request.getfixturevalue("timescale_dsn" if flavor == "timescaledb" else "pg_dsn"))
    syslog = {"port": 5140, "mode": mode, "logFormat": "combined", "delivery": "atMostOnce"}
    stack = text_stack(flavor, {"syslog": syslog})
    br.prepare(dsn, stack)
    rendered = render_vector_config(stack)
    nginx = nginx_lines(0, 20) + nginx_lines(5, 1)  # the last one again: the same request twice
    proxy = proxy_lines(100, 10)
    sent_at = dt.datetime.now(dt.UTC)
    with run_collector(vector_bin, rendered, dsn, tmp_path / "collector") as collector:
        assert collector.endpoints.syslog is not None
        host, port = collector.endpoints.syslog.rsplit(":", 1)
        address = (host, int(port))
        if mode == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for line in nginx + proxy:
                    sender.sendto(nginx_syslog(line, sent_at), address)
        else:
            # nginx itself sends only UDP; over TCP the messages come from a relay, in either format.
            with socket.create_connection(address, timeout=10) as sender:
                for line in nginx:
                    sender.sendall(nginx_syslog(line, sent_at) + b"\n")
                for line in proxy:
                    sender.sendall(rfc5424(line, sent_at, "security-proxy"))
        settle_then_stop(collector, dsn, len(nginx) + len(proxy))

    rows = buffer_rows(dsn)
    print(f"{len(nginx) + len(proxy)} syslog messages over {mode}, {len(rows)} buffer rows")
    assert Counter(row["message"] for row in rows) == Counter(nginx + proxy)
    assert {row["source_type"] for row in rows} == {"syslog"}
    apps = Counter(row["attributes"]["syslog.appname"] for row in rows)
    assert apps == ({"nginx": 31} if mode == "udp" else {"nginx": 21, "security-proxy": 10})
    assert {row["attributes"]["syslog.facility"] for row in rows} == {"local7"}
    # The request time is the line's own, not the syslog header's.
    assert min(row["timestamp"] for row in rows) == START
    assert len({row["attributes"]["log.record.uid"] for row in rows}) == len(rows)

    summary = br.parse_job(dsn, stack)
    assert (summary.written, summary.duplicates, sum(summary.rejected.values())) == (len(rows), 0, 0)
    collected = stored_records(dsn)
    assert Counter(record["source"] for record in collected) == {"combined": 21, "security-proxy": 10}
    backfill = tmp_path / "backfill"
    backfill.mkdir()
    (backfill / "nginx.log").write_text("".join(line + "\n" for line in nginx))
    (backfill / "proxy.log").write_text("".join(line + "\n" for line in proxy))
    assert_same_records_as_ingest(dsn, stack, collected, [backfill / "nginx.log", backfill / "proxy.log"])
