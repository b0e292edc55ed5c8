"""Headless Chromium (Debian's package) driven over the DevTools protocol: log a Superset session in through a
cookie, open a page, wait until its charts have drawn, and take a screenshot.

Chromium runs with a fresh profile and no background traffic (no component updates, sync or first-run pages),
and only ever loads the loopback Superset it is pointed at.
"""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def superset_session_cookie(url: str, username: str, password: str) -> tuple[str, str]:
    """Log in through Superset's form login (what a person does) and return the session cookie."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{url}/login/", timeout=30) as page:
        html = page.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"csrf_token":\s*"([^"]+)"', html)
    if token is None:
        with opener.open(f"{url}/api/v1/security/csrf_token/", timeout=30) as answer:
            csrf = json.loads(answer.read())["result"]
    else:
        csrf = token.group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": csrf}).encode()
    request = urllib.request.Request(f"{url}/login/", data=form, headers={"Referer": f"{url}/login/"})  # noqa: S310
    with opener.open(request, timeout=30):
        pass
    for cookie in jar:
        if cookie.name == "session" and cookie.value:
            return cookie.name, cookie.value
    raise RuntimeError(f"Superset at {url} gave no session cookie after the form login")


class DevTools:
    """One page target of a running Chromium."""

    def __init__(self, socket_url: str) -> None:
        self._socket = websocket.create_connection(socket_url, timeout=60, suppress_origin=True)
        self._next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    def close(self) -> None:
        self._socket.close()


@contextlib.contextmanager
def chromium(width: int = 1600, height: int = 1400) -> Iterator[DevTools]:
    binary = chromium_binary()
    if binary is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")
    # Chromium's helpers may still write to the profile while the folder goes: ignore that, not a test fault.
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while not port_file.exists() or not port_file.read_text().strip():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.2)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                pages = [t for t in json.loads(answer.read()) if t["type"] == "page"]
            tools = DevTools(pages[0]["webSocketDebuggerUrl"])
            try:
                yield tools
            finally:
                tools.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# Charts shown, still loading, and failed, as Superset's dashboard marks them. Only what is visible counts:
# Superset keeps the charts of tabs visited before in the page, hidden.
_VISIBLE = "Array.from(document.querySelectorAll({selector})).filter(e => e.getClientRects().length > 0)"
_CHARTS = _VISIBLE.format(selector="'.dashboard-chart'") + ".length"
_PENDING = _VISIBLE.format(selector="'.dashboard-chart .loading, [data-test=\"loading-indicator\"]'") + ".length"
_ERRORS = (
    _VISIBLE.format(
        selector="'.dashboard-chart [role=alert], .dashboard-chart .alert-danger,"
        ' .dashboard-chart [data-test="error-alert"]\''
    )
    + ".map(e => e.innerText.slice(0, 200))"
)


def _wait_for_charts(tools: DevTools, deadline: float) -> int:
    shown = 0
    while time.monotonic() < deadline:
        time.sleep(1)
        ready = tools.evaluate("document.readyState") == "complete"
        shown = int(tools.evaluate(_CHARTS) or 0)
        if ready and shown and not tools.evaluate(_PENDING):
            time.sleep(2)  # let the chart animations finish
            break
    return shown


_TAB_TITLES = (
    "Array.from(document.querySelectorAll('.dashboard-component-tabs [role=tab]')).map(t => t.innerText.trim())"
)


def visit_tabs(tools: DevTools, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Click every dashboard tab in turn; per tab title, how many charts it shows, how many still load, and
    the errors they show."""
    seen: dict[str, dict[str, Any]] = {}
    for index, title in enumerate(tools.evaluate(_TAB_TITLES) or []):
        tools.evaluate(f"document.querySelectorAll('.dashboard-component-tabs [role=tab]')[{index}].click()")
        shown = _wait_for_charts(tools, time.monotonic() + timeout)
        seen[title] = {"charts": shown, "pending": tools.evaluate(_PENDING), "errors": tools.evaluate(_ERRORS) or []}
    return seen


def screenshot_dashboard(
    tools: DevTools, url: str, cookie: tuple[str, str], out: Path, timeout: float = 120
) -> dict[str, Any]:
    """Open the dashboard, wait until no chart is loading, save a PNG; returns what the page showed."""
    tools.call("Network.enable")
    tools.call("Network.setCookie", name=cookie[0], value=cookie[1], url=url)
    tools.call("Page.enable")
    tools.call("Page.navigate", url=url)
    shown = _wait_for_charts(tools, time.monotonic() + timeout)
    errors = tools.evaluate(_ERRORS) or []
    title = tools.evaluate("document.title")
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return {
        "charts": shown,
        "pending": tools.evaluate(_PENDING),
        "errors": errors,
        "title": title,
        "location": tools.evaluate("location.pathname"),
    }
