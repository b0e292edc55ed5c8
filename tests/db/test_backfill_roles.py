"""docs/backfill.md's loading commands, run as written against a real PostgreSQL: `ingest` as the collector role
and `parse` as the parser role work and leave the records; the collector role cannot parse (it may only append
to the buffer), which is why the page gives each command its own role."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.roles import role_names
from georchestra_analytics.db.settings import DatabaseSettings

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "backfill.md"
EXAMPLE_LOG = ROOT / "examples" / "logs" / "security-proxy.log"
COMMAND = Path(sys.executable).parent / "georchestra-analytics"
DOCUMENTED_SCHEMA = "analytics"  # the schema the page's role names are built from


def _documented_commands() -> dict[str, tuple[str, list[str]]]:
    """Subcommand -> (the ANALYTICS_DSN it runs with, its arguments), from the page's "Loading" block."""
    block = PAGE.read_text(encoding="utf-8").split("## Loading", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands: dict[str, tuple[str, list[str]]] = {}
    for statement in block.replace("\\\n", " ").splitlines():
        words = shlex.split(statement, comments=True)
        if not words:
            continue
        assert words[0].startswith("ANALYTICS_DSN="), statement
        dsn = words[0].removeprefix("ANALYTICS_DSN=")
        assert words[1] == "georchestra-analytics", statement
        commands[words[2]] = (dsn, words[3:])
    return commands


def _run(dsn: str, arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "ANALYTICS_"))}
    return subprocess.run(
        [str(COMMAND), *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env | {"ANALYTICS_DSN": dsn},
    )


def test_the_documented_roles_are_the_collector_and_the_parser() -> None:
    commands = _documented_commands()
    assert set(commands) == {"ingest", "parse"}
    roles = role_names(DatabaseSettings(schema=DOCUMENTED_SCHEMA, flavor="postgresql"))
    assert conninfo_to_dict(commands["ingest"][0])["user"] == roles["collector"]
    assert conninfo_to_dict(commands["parse"][0])["user"] == roles["parser"]


def test_the_documented_backfill_runs_with_those_roles(pg_dsn: str, tmp_path: Path) -> None:
    # Roles are server-wide: a schema of the test's own gives it roles no other test uses.
    schema = f"backfill_{uuid.uuid4().hex[:8]}"
    settings = DatabaseSettings(schema=schema, flavor="postgresql")
    migrate(pg_dsn, settings)
    roles = role_names(settings)
    documented = role_names(DatabaseSettings(schema=DOCUMENTED_SCHEMA, flavor="postgresql"))
    stack = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "backfill", "namespace": "default"},
        "spec": {"database": {"flavor": "postgresql", "schema": schema, "managed": {}}},
    }
    (tmp_path / "stack.yaml").write_text(yaml.safe_dump(stack), encoding="utf-8")

    def as_documented(subcommand: str) -> tuple[str, list[str]]:
        """The page's command, pointed at the test database, as the same role of the test's schema."""
        dsn, arguments = _documented_commands()[subcommand]
        purpose = next(purpose for purpose, name in documented.items() if name == conninfo_to_dict(dsn)["user"])
        files = [str(EXAMPLE_LOG) if re.search(r"[*?\[]", argument) else argument for argument in arguments]
        return make_conninfo(pg_dsn, user=roles[purpose]), [subcommand, *files]

    ingest_dsn, ingest_arguments = as_documented("ingest")
    ingested = _run(ingest_dsn, [*ingest_arguments, "--json"], tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    assert str(EXAMPLE_LOG) in ingest_arguments

    # The collector's role, as the page used to say, cannot parse: it may not read or delete the buffer.
    refused = _run(ingest_dsn, ["parse", "-f", "stack.yaml"], tmp_path)
    assert refused.returncode != 0
    assert "permission denied" in refused.stdout + refused.stderr

    parse_dsn, parse_arguments = as_documented("parse")
    parsed = _run(parse_dsn, [*parse_arguments, "--json"], tmp_path)
    assert parsed.returncode == 0, parsed.stderr
    summary = json.loads(parsed.stdout)
    assert summary["written"] > 0
    with psycopg.connect(pg_dsn) as conn:
        buffered = conn.execute(f"SELECT count(*) FROM {schema}.otel_buffer").fetchone()
        stored = conn.execute(f"SELECT count(*) FROM {schema}.access_logs").fetchone()
    assert buffered == (0,)
    assert stored == (summary["written"],)
