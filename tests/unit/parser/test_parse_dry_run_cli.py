"""`georchestra-analytics parse --dry-run`: the documented contract, run through the real command."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from georchestra_analytics.cli import cli
from georchestra_analytics.parser.record import RECORD_KEYS

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "logs"


def _run(*args: str, stdin: str | None = None) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["parse", "--dry-run", *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_one_output_line_per_input_line_in_order() -> None:
    for name, input_format in (
        ("gateway-otel.jsonl", "otel"),
        ("security-proxy.log", "clf"),
        ("nginx-combined.log", "clf"),
    ):
        path = EXAMPLES / name
        inputs = path.read_text(encoding="utf-8").splitlines()
        outputs = _run("--format", input_format, str(path))
        assert len(outputs) == len(inputs)
        for line, output in zip(inputs, outputs, strict=True):
            if "rejected" in output:
                assert set(output) == {"rejected"}
            else:
                assert tuple(output) == RECORD_KEYS
                assert str(output["path"]).split("/")[1] in line  # the record of this very line


def test_gzip_and_stdin_give_the_same_records_and_ids(tmp_path: Path) -> None:
    text = (EXAMPLES / "nginx-combined.log").read_text(encoding="utf-8")
    packed = tmp_path / "nginx-combined.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    from_plain = _run("--format", "clf", str(EXAMPLES / "nginx-combined.log"))
    from_gzip = _run("--format", "clf", str(packed))
    from_stdin = _run("--format", "clf", "--source", "nginx-combined.log", "-", stdin=text)
    assert from_plain == from_gzip == from_stdin


def test_rerun_gives_the_same_ids_and_identical_lines_get_distinct_ids(tmp_path: Path) -> None:
    line = (EXAMPLES / "nginx-combined.log").read_text(encoding="utf-8").splitlines()[0]
    log = tmp_path / "twice.log"
    log.write_text(f"{line}\n{line}\n", encoding="utf-8")
    first, second = _run("--format", "clf", str(log)), _run("--format", "clf", str(log))
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert first[0]["id"] != first[1]["id"]


def test_anonymous_users_are_null_never_anonymoususer_or_empty() -> None:
    for record in _run("--format", "clf", str(EXAMPLES / "security-proxy.log")):
        if "rejected" not in record:
            assert record["user"] not in ("anonymousUser", "")
            assert isinstance(record["roles"], list)


def test_stack_file_privacy_settings_apply(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "apiVersion: analytics.georchestra.org/v1alpha1\nkind: AnalyticsStack\nmetadata: {name: a}\n"
        "spec:\n  database: {managed: {}}\n  parser:\n    privacy: {clientIp: drop, dropQueryStrings: true}\n",
        encoding="utf-8",
    )
    records = [
        r
        for r in _run("-f", str(stack), "--format", "clf", str(EXAMPLES / "nginx-combined.log"))
        if "rejected" not in r
    ]
    assert records
    assert all(r["client_ip"] is None and r["query"] is None for r in records)


def test_missing_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["parse", "--dry-run", "/nonexistent/access.log"])
    assert result.exit_code == 2
    assert "nonexistent" in result.output
