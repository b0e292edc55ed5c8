"""A seeded generator of hostile access logs, as an attacker (or a broken exporter) would send them: long and
strange values in every field, wrong JSON types for every attribute, deep nesting, invalid UTF-8, NUL, huge
layer lists, absurd dates, CRLF line ends. Text lines for the CLF formats, JSON buffer rows for the Gateway's.
The same seed gives the same bytes, so a failure can be replayed."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.accesslogs import GATEWAY_SCOPE

BASE = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_OPERATIONS = ("GetMap", "GetFeature", "GetTile", "GetCapabilities", "GetCoverage", "Execute", "GetRecords")
_SERVICES = ("WMS", "WFS", "WMTS", "WCS", "WPS", "CSW")
_PATHS = (
    "/geoserver/ows", "/geoserver/wms", "/geoserver/ws/wfs", "/geoserver/gwc/service/wmts",
    "/geoserver/gwc/service/wmts/rest/ws:l/default/EPSG:3857/EPSG:3857:5/10/12",
    "/geoserver/gwc/service/tms/1.0.0/ws:l@EPSG:3857@png/5/10/12.png", "/data/ogcapi/collections/ws:l/items",
    "/ogc/tiles/collections/l/tiles/WebMercatorQuad/3/2/1", "/mapstore/", "/geonetwork/srv/api", "/",
)  # fmt: skip


class Hostile:
    """Hostile values, each drawn from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Letters drawn once; a value is a slice of them (drawing thousands of letters per value is slow).
        self.pool = "".join(rng.choices(string.ascii_letters, k=20_000))

    def letters(self, low: int, high: int) -> str:
        start = self.rng.randrange(len(self.pool) - high)
        return self.pool[start : start + self.rng.randint(low, high)]

    def strange(self) -> str:
        """Anything a field could hold: control characters, quotes, brackets, percent escapes, unicode, long
        (rarely: a file stays tens of megabytes); often an ordinary word."""
        choice = self.rng.randrange(30)
        if choice == 0:
            return self.huge()
        if choice == 1:
            return "".join(chr(self.rng.randrange(0, 32)) for _ in range(self.rng.randint(1, 5)))
        if choice == 2:
            return '"' * self.rng.randint(1, 50) + "\\" * self.rng.randint(0, 5)
        if choice == 3:
            return " [" * self.rng.randint(1, 200)
        if choice == 4:
            return "%00%ff%c3%28%ed%a0%80" * self.rng.randint(1, 20)
        if choice == 5:
            return "é漢字🙂\u202e\ufeff" * self.rng.randint(1, 30)
        if choice == 6:
            return "|" * self.rng.randint(1, 100)
        if choice == 7:
            return "" if self.rng.random() < 0.5 else " "
        if choice == 8:
            return "<script>" + self.letters(1, 40)
        if choice == 9:
            return "-"
        if choice == 10:
            return self.letters(300, 1500)
        return self.letters(1, 30)

    def huge(self) -> str:
        """One time in twenty a long value: up to and past the line bound."""
        if self.rng.random() >= 0.05:
            return self.letters(100, 400)
        return self.rng.choice((lambda: "a=&" * self.rng.randint(1, 22000), lambda: "x" * 70_000,
                                lambda: self.letters(2000, 6000)))()  # fmt: skip

    def layers(self) -> str:
        count = self.rng.choice((1, 1, 1, 2, 3, 3, 60, 60, 200)) if self.rng.random() < 0.99 else 3000
        return ",".join(f"{self.rng.choice(('ws', 'a b', 'x' * 70, 'é'))}:{self.letters(1, 12)}" for _ in range(count))

    def query(self) -> str:
        parts = [
            f"SERVICE={self.rng.choice((*_SERVICES, self.strange()))}",
            f"REQUEST={self.rng.choice((*_OPERATIONS, self.strange()))}",
            f"LAYERS={self.layers()}",
            f"TYPENAMES={self.layers()}",
            f"outputFormat={self.rng.choice(('shape-zip', 'application/json', self.strange()))}",
            f"WIDTH={self.rng.choice(('256', self.strange()))}",
            self.strange(),
        ]
        self.rng.shuffle(parts)
        return "&".join(parts[: self.rng.randint(1, len(parts))])

    def url(self) -> str:
        host = self.rng.choice(("http://geoserver:8080", f"https://{self.strange()}", "", "https://geo.example.org"))
        path = self.rng.choice((*_PATHS, "/" + self.strange(), "/geoserver/" + self.strange() + "/wms"))
        return f"{host}{path}?{self.query()}"

    def clf_time(self) -> str:
        choice = self.rng.randrange(6)
        if choice == 0:
            return self.strange()
        if choice == 1:
            return f"{self.rng.randint(0, 99)}/{self.rng.choice(_MONTHS)}/{self.rng.randint(0, 99999)}:99:99:99 +9999"
        if choice == 2:
            return "01/Jan/0001:00:00:00 +0000"
        if choice == 3:
            return "31/Dec/9999:23:59:59 -1400"
        when = BASE + timedelta(seconds=self.rng.randint(-86400 * 400, 3600))
        return when.strftime("%d/%b/%Y:%H:%M:%S +0000")

    def json_value(self) -> Any:
        """A value of any JSON type, for attributes that expect a string or a number."""
        choice = self.rng.randrange(20)
        if choice == 0:
            return self.rng.randint(-(2**70), 2**70)
        if choice == 1:
            return self.rng.random() * 10 ** self.rng.randint(-5, 300)
        if choice == 2:
            return [self.strange() for _ in range(self.rng.randint(0, 3))]
        if choice == 3:
            return {"a": self.strange(), "b": [1, {"c": None}]}
        if choice == 4:
            return None
        if choice == 5:
            return self.rng.random() < 0.5
        if choice == 6:
            return self.nested(self.rng.choice((10, 70, 500)) if self.rng.random() < 0.2 else 3)
        if choice in (7, 8, 9):
            return self.rng.randint(0, 1000)
        return self.strange()

    def nested(self, depth: int) -> Any:
        value: Any = "bottom"
        for _ in range(depth):
            value = {"n": value} if self.rng.random() < 0.5 else [value]
        return value

    def timestamp(self) -> Any:
        return self.rng.choice((
            (BASE + timedelta(seconds=self.rng.randint(0, 3600))).isoformat(), "0", 0, -1, 1e30, "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z", "20000-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "", None, [], {"t": 1},
            "2026-02-30T00:00:00Z", 1764236000123456789,
        ))  # fmt: skip


def text_line(hostile: Hostile, index: int) -> bytes:
    """A CLF-shaped line with hostile fields, as bytes: some are invalid UTF-8, hold NUL or end in CRLF."""
    rng = hostile.rng
    ip = rng.choice(("192.0.2.7", hostile.strange(), "::ffff:10.0.0.1", "[2001:db8::1]:443"))
    user = rng.choice(("-", "anonymousUser", f"{hostile.strange()}|{hostile.strange()}|{hostile.strange()}"))
    method = rng.choice(("GET", "POST", hostile.letters(1, 3000), "G\x00T"))
    status = rng.choice(("200", "404", "999", "2000", hostile.strange()))
    size = rng.choice(("1234", "-", "9" * 40, hostile.strange()))
    referrer, agent = hostile.strange(), rng.choice(("Mozilla/5.0 QGIS/34000", hostile.strange()))
    tail = rng.choice(("", f" {rng.randint(0, 2**40)}ms", f" rt={rng.random() * 10 ** rng.randint(0, 12)}", " 5ms\r"))
    line = (
        f'{ip} - {user} [{hostile.clf_time()}] "{method} {hostile.url()} HTTP/1.1" {status} {size} '
        f'"{referrer}" "{agent}"{tail} n={index}'
    )
    data = line.encode("utf-8", "surrogatepass")
    choice = rng.randrange(10)
    if choice == 0:
        data = data.replace(b"e", b"\xff\xfe", 3)  # invalid UTF-8: read as Latin-1
    elif choice == 1:
        data = data.replace(b" ", b"\x00", 1)
    elif choice == 2:
        data += b"\r"  # CRLF once the newline is added
    return data


def _gateway_attributes(hostile: Hostile) -> dict[str, Any]:
    rng = hostile.rng
    attributes: dict[str, Any] = {
        "http.request.method": rng.choice(("GET", "POST", hostile.json_value())),
        "http.status_code": rng.choice(("200", 404, "x", hostile.json_value())),
        "http.request.url": rng.choice((hostile.url(), hostile.url(), hostile.json_value())),
        "http.request.id": rng.choice((f"req-{rng.getrandbits(64):x}", hostile.json_value())),
        "enduser.id": rng.choice((None, "alice", hostile.json_value())),
        "enduser.org.id": rng.choice(("psc", hostile.json_value())),
        "enduser.roles": rng.choice(("ROLE_USER,ROLE_ADMIN", hostile.json_value())),
        "http.request.header.user-agent": rng.choice(("Mozilla/5.0 QGIS/34000", hostile.json_value())),
        "http.request.header.referer": hostile.json_value(),
        "http.request.header.x-forwarded-for": hostile.json_value(),
        "http.request.parameter.layers": hostile.json_value(),
        "http.response.body.size": hostile.json_value(),
        "http.server.request.duration": hostile.json_value(),
        "client.address": hostile.json_value(),
        "log.record.uid": rng.choice((None, hostile.json_value())),
    }
    return {name: value for name, value in attributes.items() if value is not None or rng.random() < 0.3}


def json_row(hostile: Hostile, index: int) -> bytes:
    """A buffer row as JSON with hostile values in every column and attribute; some lines are not JSON,
    not an object, nested too deeply, or hold escapes jsonb refuses."""
    rng = hostile.rng
    row: dict[str, Any] = {
        "timestamp": hostile.timestamp(),
        "observed_timestamp": hostile.timestamp(),
        "message": rng.choice((None, f"GET 200 {hostile.url()}", hostile.json_value())),
        "attributes": _gateway_attributes(hostile) if rng.random() < 0.9 else hostile.json_value(),
        "scope": rng.choice(({"name": GATEWAY_SCOPE},) * 6 + ({"name": hostile.strange()}, hostile.json_value())),
        "resources": hostile.json_value(),
        "severity_number": hostile.json_value(),
        "flags": rng.choice((0, 2**40, "x")),
        "trace_id": hostile.json_value(),
        "source_type": rng.choice(("opentelemetry", hostile.json_value())),
        "n": index,
    }
    text = json.dumps(row, ensure_ascii=rng.random() < 0.5)
    choice = rng.randrange(14)
    if choice == 0:
        text = text[: rng.randint(1, len(text))]  # truncated
    elif choice == 1:
        text = json.dumps(hostile.json_value())  # not an object
    elif choice == 2:
        text = text.replace('"bottom"', '"\\u0000"').replace('"alice"', '"a\\u0000"')
    elif choice == 3:
        text = text.replace('"psc"', '"\\ud800"')  # a lone surrogate
    elif choice == 4:
        text = '{"attributes": ' + "[" * 10_000 + "]" * 10_000 + "}"
    data = text.encode("utf-8", "surrogatepass")
    if choice == 5:
        data += b"\r"
    return data


GENERATORS: dict[str, Callable[[Hostile, int], bytes]] = {"text": text_line, "json": json_row}


def corpus(kind: str, count: int, seed: int) -> bytes:
    """`count` hostile lines of one kind as a file's bytes (no blank lines: each line is one buffer row)."""
    hostile = Hostile(random.Random(seed))
    build = GENERATORS[kind]
    lines = []
    for index in range(count):
        data = build(hostile, index)
        lines.append(data.replace(b"\n", b" ") or b"-")
    return b"\n".join(lines) + b"\n"
