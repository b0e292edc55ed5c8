"""`ingest` then `parse` through the real commands: re-ingest counts nothing twice, identical lines stay
distinct requests, summaries for scripts and the operator, exit codes."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import psycopg
from click.testing import CliRunner

from georchestra_analytics.cli import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "logs"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _records(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return [(str(ts), rid) for ts, rid in conn.execute("SELECT ts, id FROM analytics.access_logs")]


def _dry_run_count(*args: str) -> int:
    lines = _invoke("parse", "--dry-run", *args).splitlines()
    return sum(1 for line in lines if "rejected" not in json.loads(line))


def _rejected_count(clf_file: str) -> int:
    lines = _invoke("parse", "--dry-run", "--format", "clf", clf_file).splitlines()
    return sum(1 for line in lines if "rejected" in json.loads(line))


def test_reingesting_the_same_files_counts_nothing_twice(analytics_dsn: str, tmp_path: Path) -> None:
    files = [str(EXAMPLES / name) for name in ("security-proxy.log", "nginx-combined.log", "gateway-otel.jsonl")]
    _invoke("ingest", "--dsn", analytics_dsn, *files)
    first = json.loads(_invoke("parse", "--dsn", analytics_dsn, "--json"))
    once = _records(analytics_dsn)
    # Again, and once more from a gzip copy in another folder: same file name, same ids.
    packed = tmp_path / "nginx-combined.log.gz"
    packed.write_bytes(gzip.compress((EXAMPLES / "nginx-combined.log").read_bytes()))
    _invoke("ingest", "--dsn", analytics_dsn, *files, str(packed))
    second = json.loads(_invoke("parse", "--dsn", analytics_dsn, "--json"))
    assert sorted(_records(analytics_dsn)) == sorted(once)
    nginx = _dry_run_count("--format", "clf", files[1])
    expected = _dry_run_count("--format", "clf", files[0]) + nginx + _dry_run_count("--format", "otel", files[2])
    assert first["written"] == len(once) == expected
    # Every row is already stored, as a record or as a reject: re-ingest never doubles rejects either.
    assert (second["written"], second["rejected"]) == (0, 0)
    assert second["duplicates"] == second["claimed"] == first["claimed"] + nginx + _rejected_count(files[1])


def test_identical_lines_in_one_file_are_distinct_requests(analytics_dsn: str, tmp_path: Path) -> None:
    # The example proxy log holds the same GetMap line twice (same second, same user): two requests.
    lines = (EXAMPLES / "security-proxy.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) != len(set(lines))
    copy = tmp_path / "security-proxy.log"
    shutil.copy(EXAMPLES / "security-proxy.log", copy)
    _invoke("ingest", "--dsn", analytics_dsn, str(copy))
    _invoke("parse", "--dsn", analytics_dsn)
    assert len(_records(analytics_dsn)) == _dry_run_count("--format", "clf", str(copy))


def test_dry_run_and_database_give_the_same_ids(analytics_dsn: str) -> None:
    path = str(EXAMPLES / "nginx-combined.log")
    dry = {json.loads(line)["id"] for line in _invoke("parse", "--dry-run", "--format", "clf", path).splitlines()}
    _invoke("ingest", "--dsn", analytics_dsn, path)
    _invoke("parse", "--dsn", analytics_dsn)
    assert {rid for _, rid in _records(analytics_dsn)} == dry


def test_termination_log_holds_the_counts(analytics_dsn: str, tmp_path: Path) -> None:
    _invoke("ingest", "--dsn", analytics_dsn, str(EXAMPLES / "gateway-otel.jsonl"))
    termination = tmp_path / "termination-log"
    text = _invoke("parse", "--dsn", analytics_dsn, "--termination-log", str(termination))
    summary = json.loads(termination.read_text(encoding="utf-8"))
    assert summary["claimed"] == summary["written"] + summary["rejected"] + summary["duplicates"]
    assert summary["rejected_by_reason"] == {
        "not an access log (other scope)": 1,
        "malformed or truncated access-log line": 1,
    }
    assert f"{summary['written']} records written" in text


def test_an_unreachable_database_exits_1_and_says_so(tmp_path: Path) -> None:
    termination = tmp_path / "termination-log"
    result = CliRunner().invoke(
        cli, ["parse", "--dsn", "host=127.0.0.1 port=1 connect_timeout=2", "--termination-log", str(termination)]
    )
    assert result.exit_code == 1
    assert "unreachable" in json.loads(termination.read_text(encoding="utf-8"))["error"]


def test_no_dsn_is_a_usage_error(monkeypatch: object) -> None:
    result = CliRunner(env={"ANALYTICS_DSN": ""}).invoke(cli, ["parse"])
    assert result.exit_code == 2


def test_an_unreadable_maxmind_file_is_refused_in_one_line_and_reported(analytics_dsn: str, tmp_path: Path) -> None:
    # The claim is not mounted here, as when the file name in the stack is wrong: the run refuses to start.
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "apiVersion: analytics.georchestra.org/v1alpha1\nkind: AnalyticsStack\n"
        "metadata: {name: analytics, namespace: georchestra}\n"
        "spec:\n  database: {external: {host: db, credentialsSecret: {name: db}}}\n"
        "  parser: {geolocation: {maxmindDatabase: {claimName: geoip, file: Missing.mmdb}}}\n",
        encoding="utf-8",
    )
    termination = tmp_path / "termination-log"
    result = CliRunner().invoke(
        cli, ["parse", "--dsn", analytics_dsn, "-f", str(stack), "--termination-log", str(termination)]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "cannot read the MaxMind DB file" in result.stderr
    assert "cannot read the MaxMind DB file" in json.loads(termination.read_text(encoding="utf-8"))["error"]
