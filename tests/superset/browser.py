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
from collections.abc import Iterator, Mapping
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
                # The page's own size, exactly: --window-size counts the window's frame in too.
                tools.call(
                    "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
                )
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


# Charts whose query returned no rows: Superset draws an empty state, not an error, for them.
_EMPTY = (
    _VISIBLE.format(selector="'.dashboard-chart'")
    + ".filter(e => e.innerText.includes('No results were returned')).map(e => e.innerText.slice(0, 200))"
)

# Charts that show none of what ours draw: an ECharts canvas, a table row, a big number, a world map's country.
_UNDRAWN = (
    _VISIBLE.format(selector="'.dashboard-chart'")
    + ".filter(e => !Array.from(e.querySelectorAll('canvas, tbody tr, .header-line, path.datamaps-subunit'))"
    + ".some(d => d.getBoundingClientRect().height > 0 && d.getBoundingClientRect().width > 0))"
    + ".map(e => e.innerText.slice(0, 200))"
)

# Where the dashboard's visible charts end, with their cards' margin.
_CONTENT_BOTTOM = (
    _VISIBLE.format(selector="'.dashboard-component-chart-holder, .dashboard-chart'")
    + ".reduce((bottom, e) => Math.max(bottom, e.getBoundingClientRect().bottom), 0) + 24"
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


def _chart_states(tools: DevTools, shown: int) -> dict[str, Any]:
    return {
        "charts": shown,
        "pending": tools.evaluate(_PENDING),
        "errors": tools.evaluate(_ERRORS) or [],
        "empty": tools.evaluate(_EMPTY) or [],
        "undrawn": tools.evaluate(_UNDRAWN) or [],
        # Where the charts end: below the window's height, a screenshot would cut them off.
        "bottom": int(tools.evaluate(_CONTENT_BOTTOM) or 0),
    }


def capture(tools: DevTools, out: Path) -> None:
    """A PNG of what the window shows, down to the end of the charts (not the empty space below)."""
    width, height = tools.evaluate("[window.innerWidth, window.innerHeight]")
    bottom = min(int(tools.evaluate(_CONTENT_BOTTOM) or height), height)
    clip = {"x": 0, "y": 0, "width": width, "height": bottom, "scale": 1}
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=False, clip=clip)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))


def visit_tabs(
    tools: DevTools, timeout: float = 60, shots: Mapping[str, Path] | None = None
) -> dict[str, dict[str, Any]]:
    """Click every dashboard tab in turn; per tab title, how many charts it shows, how many still load, the
    errors and empty results they show, those that drew nothing, and where they end. `shots`: tab title ->
    where to save a PNG of that tab once its charts have drawn."""
    seen: dict[str, dict[str, Any]] = {}
    for index, title in enumerate(tools.evaluate(_TAB_TITLES) or []):
        tools.evaluate(f"document.querySelectorAll('.dashboard-component-tabs [role=tab]')[{index}].click()")
        shown = _wait_for_charts(tools, time.monotonic() + timeout)
        seen[title] = _chart_states(tools, shown)
        if shots and title in shots:
            capture(tools, shots[title])
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
    capture(tools, out)
    return _chart_states(tools, shown) | {
        "title": tools.evaluate("document.title"),
        "location": tools.evaluate("location.pathname"),
    }
