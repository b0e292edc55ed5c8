"""Superset behind the geOrchestra Gateway (docs/superset-gateway.md): the page's superset_config.py block, added
as it is to a real Superset's configuration, signs users in from the `sec-username` header, leaves requests
without it anonymous, and keeps the stack's `superset sync` (a password login through the API) working."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.superset.conftest import AnalyticsDatabase
from tests.support import superset as superset_support
from tests.support.superset import RunningSuperset, SupersetServer

from georchestra_analytics.superset.bundle import Bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.errors import SupersetLoginRefused
from georchestra_analytics.superset.sync import sync

PAGE = Path(__file__).resolve().parents[2] / "docs" / "superset-gateway.md"
_BLOCK = re.compile(r"<!-- superset-header-auth -->\n```python\n(?P<body>.*?)\n```", re.DOTALL)


def page_config() -> str:
    match = _BLOCK.search(PAGE.read_text(encoding="utf-8"))
    assert match, f"{PAGE} has no superset-header-auth block"
    return match["body"]


@dataclass(frozen=True)
class TwoServers:
    gateway: SupersetServer  # AUTH_REMOTE_USER, behind the Gateway
    password_login: SupersetServer  # the same file with SUPERSET_PASSWORD_LOGIN=true, same metadata and secret


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoServers]:
    """Two Supersets of their own, configured as the page says (the session's Superset keeps its form login)."""
    write_config = superset_support.write_config
    superset_env = superset_support._superset_env
    shared: dict[str, Any] = {}

    def gateway_config(path: Path, **kwargs: Any) -> None:
        shared.update(kwargs)  # the metadata database and the secret key, for the second server
        write_config(path, **kwargs)
        path.write_text(path.read_text(encoding="utf-8") + "\n" + page_config() + "\n", encoding="utf-8")

    def password_login_config(path: Path, **_kwargs: Any) -> None:
        gateway_config(path, **shared)

    def password_login_env(config: Path) -> dict[str, str]:
        return {**superset_env(config), "SUPERSET_PASSWORD_LOGIN": "true"}

    install = superset_support.ensure()
    first = RunningSuperset(install, tmp_path_factory.mktemp("superset-gateway"))
    second = RunningSuperset(install, tmp_path_factory.mktemp("superset-password-login"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(superset_support, "write_config", gateway_config)
            gateway = first.start()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(superset_support, "write_config", password_login_config)
            patch.setattr(superset_support, "_superset_env", password_login_env)
            password_login = second.start()
        yield TwoServers(gateway, password_login)
    finally:
        second.stop()
        first.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _browser() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect()), jar


def _get(opener: urllib.request.OpenerDirector, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a loopback test server
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_gateway_header_signs_users_in(servers: TwoServers) -> None:
    url = servers.gateway.url
    browser, _jar = _browser()
    status, _body = _get(browser, f"{url}/login/", {"sec-username": "alice", "sec-roles": "ROLE_USER"})
    assert status in (301, 302), status
    status, body = _get(browser, f"{url}/api/v1/me/")
    assert status == 200, body[:500]
    me = json.loads(body)["result"]
    assert me["username"] == "alice"

    anonymous, _jar = _browser()
    _get(anonymous, f"{url}/login/")
    status, _body = _get(anonymous, f"{url}/api/v1/me/")
    assert status == 401


def test_the_gateway_server_refuses_password_logins(servers: TwoServers) -> None:
    with pytest.raises(SupersetLoginRefused, match="Alternative authentication provider is not allowed"):
        SupersetClient.login(servers.gateway.url, servers.gateway.username, servers.gateway.password)


def test_sync_through_the_password_login_server(
    servers: TwoServers, bundle: Bundle, analytics_db: AnalyticsDatabase
) -> None:
    server = servers.password_login
    client = SupersetClient.login(server.url, server.username, server.password)
    result = sync(client, bundle, analytics_db.dashboards_password, force=True)
    assert result.imported and result.dashboard_id is not None
    # One metadata database: a user signed in through the Gateway's server sees the imported dashboard there.
    browser, _jar = _browser()
    _get(browser, f"{servers.gateway.url}/login/", {"sec-username": "admin"})
    status, body = _get(browser, f"{servers.gateway.url}/api/v1/dashboard/{bundle.dashboard_slug}")
    assert status == 200, body[:500]
    assert json.loads(body)["result"]["id"] == result.dashboard_id
