"""Failures say what went wrong: refused login, unreachable Superset, a Superset without the assets API;
and the command line reports them with an exit code, never echoing a password."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from tests.superset.conftest import AnalyticsDatabase
from tests.support.superset import SupersetServer

from georchestra_analytics.cli import cli
from georchestra_analytics.superset.bundle import Bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.errors import (
    SupersetAssetsApiMissing,
    SupersetLoginRefused,
    SupersetUnreachable,
)

WRONG_PASSWORD = "not-the-admin-password-4711"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_wrong_password_is_refused_with_a_message_naming_url_and_user(superset_server: SupersetServer) -> None:
    with pytest.raises(SupersetLoginRefused) as caught:
        SupersetClient.login(superset_server.url, superset_server.username, WRONG_PASSWORD)
    message = str(caught.value)
    assert message.startswith(
        f"Superset at {superset_server.url} refused the login for user {superset_server.username!r}: "
    )
    assert WRONG_PASSWORD not in message


def test_unreachable_superset_says_so() -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(SupersetUnreachable) as caught:
        SupersetClient.login(url, "admin", "whatever", timeout=5)
    assert str(caught.value).startswith(f"cannot reach Superset at {url}: ")


class _OldSuperset(BaseHTTPRequestHandler):
    """A stand-in for a Superset older than 2.1 (the real 6.1 under test has the assets API, so it cannot
    produce this fault): login and CSRF work, /api/v1/assets/import/ is a 404 like any unknown route."""

    def _json(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/api/v1/security/login":
            self._json(200, {"access_token": "token"})
        else:
            self._json(404, {"message": "Not found"})

    def do_GET(self) -> None:
        if self.path == "/api/v1/security/csrf_token/":
            self._json(200, {"result": "csrf"})
        else:
            self._json(404, {"message": "Not found"})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def old_superset() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OldSuperset)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_superset_without_assets_api_says_which_version_is_needed(old_superset: str, bundle: Bundle) -> None:
    client = SupersetClient.login(old_superset, "admin", "admin")
    with pytest.raises(SupersetAssetsApiMissing) as caught:
        client.import_assets(bundle.zip_bytes(), {bundle.database_file: "x"})
    assert str(caught.value).startswith("this Superset has no assets API (needs >= 2.1)")


def _stack_file(tmp_path: Path, analytics_db: AnalyticsDatabase, superset_url: str) -> Path:
    target = analytics_db.bundle_settings.database
    stack = {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "cli", "namespace": "geo"},
        "spec": {
            "database": {
                "flavor": "postgresql",
                "external": {"host": target.host, "port": target.port, "databaseName": target.database,
                             "sslMode": "disable", "credentialsSecret": {"name": "analytics-db"}},
            },
            "superset": {"url": superset_url, "credentialsSecret": {"name": "superset-admin"}},
        },
    }  # fmt: skip
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(stack))
    return path


def test_cli_sync_with_the_environment_credentials(
    tmp_path: Path, analytics_db: AnalyticsDatabase, superset_server: SupersetServer
) -> None:
    stack = _stack_file(tmp_path, analytics_db, superset_server.url)
    env = {
        "SUPERSET_USERNAME": superset_server.username,
        "SUPERSET_PASSWORD": superset_server.password,
        "ANALYTICS_DASHBOARDS_PASSWORD": analytics_db.dashboards_password,
    }
    runner = CliRunner()
    first = runner.invoke(cli, ["superset", "sync", "-f", str(stack), "--json"], env=env)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["imported"] is True
    second = runner.invoke(cli, ["superset", "sync", "-f", str(stack), "--json"], env=env)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["imported"] is False
    for run in (first, second):
        assert superset_server.password not in run.output
        assert analytics_db.dashboards_password not in run.output


def test_cli_sync_wrong_password_exits_1_with_the_message(
    tmp_path: Path, analytics_db: AnalyticsDatabase, superset_server: SupersetServer
) -> None:
    stack = _stack_file(tmp_path, analytics_db, superset_server.url)
    env = {
        "SUPERSET_USERNAME": superset_server.username,
        "SUPERSET_PASSWORD": WRONG_PASSWORD,
        "ANALYTICS_DASHBOARDS_PASSWORD": analytics_db.dashboards_password,
    }
    result = CliRunner().invoke(cli, ["superset", "sync", "-f", str(stack)], env=env)
    assert result.exit_code == 1
    assert f"Superset at {superset_server.url} refused the login" in result.output
    assert WRONG_PASSWORD not in result.output


def test_cli_bundle_writes_a_zip_without_password(tmp_path: Path, analytics_db: AnalyticsDatabase) -> None:
    stack = _stack_file(tmp_path, analytics_db, "http://superset.invalid")
    out = tmp_path / "bundle.zip"
    env = {"ANALYTICS_DASHBOARDS_PASSWORD": analytics_db.dashboards_password}
    result = CliRunner().invoke(cli, ["superset", "bundle", "-f", str(stack), "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert analytics_db.dashboards_password.encode() not in out.read_bytes()
    assert out.read_bytes()[:2] == b"PK"


def test_cli_sync_falls_back_to_the_jobs_database_account(
    tmp_path: Path, analytics_db: AnalyticsDatabase, superset_server: SupersetServer
) -> None:
    """The operator's Jobs carry PGUSER/PGPASSWORD; without ANALYTICS_DASHBOARDS_PASSWORD the sync uses them."""
    stack = _stack_file(tmp_path, analytics_db, superset_server.url)
    env = {
        "SUPERSET_USERNAME": superset_server.username,
        "SUPERSET_PASSWORD": superset_server.password,
        "ANALYTICS_DASHBOARDS_PASSWORD": None,
        "PGUSER": "postgres",
        "PGPASSWORD": "jobs-account-password",
    }
    result = CliRunner().invoke(cli, ["superset", "sync", "-f", str(stack), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "not as the read-only dashboards role" in result.stderr
    assert "jobs-account-password" not in result.output
    client = SupersetClient.login(superset_server.url, superset_server.username, superset_server.password)
    query = {"q": json.dumps({"filters": [{"col": "database_name", "opr": "eq", "value": "geOrchestra analytics"}]})}
    (database,) = client.get("/api/v1/database/", query=query)["result"]
    detail = client.get(f"/api/v1/database/{database['id']}/connection")["result"]
    assert detail["sqlalchemy_uri"].startswith("postgresql+psycopg2://postgres@")


def test_cli_sync_without_any_database_password_is_a_usage_error(
    tmp_path: Path, analytics_db: AnalyticsDatabase
) -> None:
    stack = _stack_file(tmp_path, analytics_db, "http://superset.invalid")
    env = {"ANALYTICS_DASHBOARDS_PASSWORD": None, "PGUSER": None, "PGPASSWORD": None}
    result = CliRunner().invoke(cli, ["superset", "sync", "-f", str(stack)], env=env)
    assert result.exit_code == 2
    assert "ANALYTICS_DASHBOARDS_PASSWORD" in result.output
