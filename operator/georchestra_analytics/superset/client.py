"""A small Superset REST client: login, CSRF, JSON calls and the assets import.

Superset's API wants, for any write: the JWT from `/api/v1/security/login` as a Bearer token, the CSRF token
from `/api/v1/security/csrf_token/` together with the session cookie that call sets, a `Referer` on the same
origin, and `Accept: application/json` (without it some errors come back as HTML redirects). The standard
library is enough for that, so the client adds no dependency.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from georchestra_analytics.superset.errors import (
    SupersetApiError,
    SupersetAssetsApiMissing,
    SupersetLoginRefused,
    SupersetUnreachable,
)

log = logging.getLogger(__name__)

ASSETS_IMPORT_PATH = "/api/v1/assets/import/"
DEFAULT_TIMEOUT_S = 120.0


def _error_detail(body: bytes) -> str:
    """Superset's own words from an error body: its `message`/`errors`, else the start of the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or "(empty answer)"
    if isinstance(payload, dict):
        for key in ("message", "msg", "errors", "error"):
            if payload.get(key):
                value = payload[key]
                return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)[:1000]
    return json.dumps(payload, ensure_ascii=False)[:1000]


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """Encode a multipart/form-data body; returns it with its Content-Type."""
    boundary = f"----georchestra-analytics-{secrets.token_hex(16)}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        )
    for name, (filename, content, content_type) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class SupersetClient:
    """A logged-in session with one Superset. Build it with `SupersetClient.login(...)`."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._cookies))
        self._access_token: str | None = None
        self._csrf_token: str | None = None

    @classmethod
    def login(
        cls, url: str, username: str, password: str, *, provider: str = "db", timeout: float = DEFAULT_TIMEOUT_S
    ) -> SupersetClient:
        client = cls(url, timeout=timeout)
        body = {"username": username, "password": password, "provider": provider, "refresh": False}
        try:
            answer = client._send("POST", "/api/v1/security/login", json_body=body, authenticated=False)
        except SupersetApiError as error:
            if error.status in (400, 401, 403, 422):
                raise SupersetLoginRefused(
                    f"Superset at {client.url} refused the login for user {username!r}: {error.detail}"
                ) from None
            raise
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise SupersetLoginRefused(
                f"Superset at {client.url} refused the login for user {username!r}: no access token in its answer"
            )
        client._access_token = token
        return client

    # -- plumbing -------------------------------------------------------------------------------------------

    def _headers(self, authenticated: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "Referer": f"{self.url}/"}
        if authenticated and self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        if authenticated and self._csrf_token:
            headers["X-CSRFToken"] = self._csrf_token
        return headers

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        raw_body: tuple[bytes, str] | None = None,
        query: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> Any:
        target = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = self._headers(authenticated)
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif raw_body is not None:
            data, headers["Content-Type"] = raw_body
        request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error.read())
            raise SupersetApiError(
                f"Superset at {self.url} answered {error.code} to {method} {path}: {detail}", error.code, detail
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SupersetUnreachable(f"cannot reach Superset at {self.url}: {reason}") from None
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise SupersetApiError(
                f"Superset at {self.url} answered {method} {path} with something that is not JSON: "
                f"{_error_detail(body)}",
                200,
            ) from None

    def _ensure_csrf(self) -> None:
        if self._csrf_token is None:
            answer = self._send("GET", "/api/v1/security/csrf_token/")
            self._csrf_token = str(answer["result"])

    # -- API --------------------------------------------------------------------------------------------

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        return self._send("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        self._ensure_csrf()
        return self._send("POST", path, json_body=body)

    def delete(self, path: str) -> Any:
        self._ensure_csrf()
        return self._send("DELETE", path)

    def import_assets(self, bundle: bytes, passwords: dict[str, str], *, filename: str = "bundle.zip") -> None:
        """Import a bundle zip through the assets API, which overwrites every asset it contains."""
        self._ensure_csrf()
        body = _multipart({"passwords": json.dumps(passwords)}, {"bundle": (filename, bundle, "application/zip")})
        try:
            self._send("POST", ASSETS_IMPORT_PATH, raw_body=body)
        except SupersetApiError as error:
            if error.status == 404:
                raise SupersetAssetsApiMissing(
                    f"this Superset has no assets API (needs >= 2.1): {self.url}{ASSETS_IMPORT_PATH} answered 404"
                ) from None
            raise
        log.info("imported bundle %s (%d bytes) into Superset at %s", filename, len(bundle), self.url)
