"""Text access-log lines: security-proxy (`ip - user|org|roles [time] "METHOD URL HTTP/1.1" status size "-"
"agent" - "target" "-" NNNms`), nginx/Apache `combined` and plain `common` (CLF)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from georchestra_analytics.parser.bounds import MAX_LINE_CHARS
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.request import LoggedRequest

# One pattern for the three formats. The user field runs up to the first " [": security-proxy organisation
# names hold spaces and apostrophes, never "[". It may not run past a "[" and the time is at most 64
# characters: each field then has one place it can end, and matching stays linear in the line's length (a
# user field free to end at any later " [" made a line of many " [" quadratic). Quoted fields allow
# backslash escapes, as nginx writes them.
_LINE = re.compile(
    r"(?P<ip>\S+) \S+ (?P<user>[^\[]*?) \[(?P<time>[^\]]{1,64})\] "
    r'"(?P<method>[A-Za-z]+) (?P<url>\S+)(?: [^"]*)?" '
    r"(?P<status>\d{3}) (?P<size>\d+|-)"
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
    r"(?P<rest>.*)"
)
_DURATION_MS = re.compile(r"(?:^|\s)(\d+)ms\s*$")
_REQUEST_TIME_S = re.compile(r"(?:^|\s)(?:rt|request_time)=(\d+(?:\.\d+)?)(?:\s|$)")
# Control characters other than tab: a line holding them is binary garbage, not a log line.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
ANONYMOUS_NAMES = frozenset({"", "-", "anonymousUser", "anonymous"})


class MalformedLine(ValueError):
    pass


@lru_cache(maxsize=4096)
def parse_clf_time(text: str) -> datetime:
    """`27/Nov/2026:10:00:00 +0100` to an aware UTC datetime (strptime is slow; lines share seconds)."""
    try:
        day, month, rest = text.split("/", 2)
        year, hh, mm, rest2 = rest.split(":", 3)
        ss, zone = rest2.split(" ", 1)
        sign = -1 if zone[0] == "-" else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        local = datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
        return local.astimezone(UTC)  # OverflowError past year 9999 or before year 1 in UTC
    except (ValueError, KeyError, IndexError, OverflowError) as error:
        raise MalformedLine(f"bad timestamp {text!r}") from error


def _unquote_field(value: str | None) -> str | None:
    if value is None or value in ("", "-"):
        return None
    return value.replace('\\"', '"') if "\\" in value else value


def _split_identity(field: str) -> tuple[str | None, str | None, list[str]]:
    """security-proxy's `user|org|role1,role2`; plain CLF has just the user (or `-`)."""
    if "|" not in field:
        return (None if field in ANONYMOUS_NAMES else field), None, []
    parts = field.split("|")
    user = parts[0].strip()
    if user in ANONYMOUS_NAMES:
        return None, None, []
    if len(parts) == 2:
        org_text, roles_text = parts[1], ""
    else:
        org_text, roles_text = "|".join(parts[1:-1]), parts[-1]
    org = org_text.strip() or None
    if org == "-":
        org = None
    roles = [role.strip() for role in roles_text.split(",") if role.strip() and role.strip() != "-"]
    return user, org, roles


def parse_text_line(line: str, record_id: str, *, format_hint: str | None = None) -> LoggedRequest | Reject:
    text = line.rstrip("\r\n")
    if not text.strip():
        return Reject("empty line", {"message": line})
    if len(text) > MAX_LINE_CHARS:
        return Reject("line too long", {"message": line})
    if _BINARY.search(text):
        return Reject("binary data, not a log line", {"message": line})
    match = _LINE.match(text)
    if match is None:
        return Reject("malformed or truncated access-log line", {"message": line})
    try:
        ts = parse_clf_time(match["time"])
    except MalformedLine:
        return Reject("bad timestamp", {"message": line})
    user, org, roles = _split_identity(match["user"])
    rest = match["rest"]
    duration: int | None = None
    if rest:
        found = _DURATION_MS.search(rest)
        if found:
            duration = int(found[1])
        else:
            seconds = _REQUEST_TIME_S.search(rest)
            if seconds and len(seconds[1]) <= 20:  # longer is no duration (and may not fit a float)
                duration = round(float(seconds[1]) * 1000)
    is_proxy = (
        format_hint == "security-proxy"
        or "|" in match["user"]
        or (duration is not None and rest.rstrip().endswith("ms"))
    )
    if is_proxy:
        source = "security-proxy"
    elif format_hint in ("combined", "clf"):
        source = format_hint
    else:
        source = "combined" if match["agent"] is not None else "clf"
    size = match["size"]
    return LoggedRequest(
        ts=ts,
        id=record_id,
        source=source,
        method=match["method"].upper(),
        url=match["url"],
        status=int(match["status"]),
        user=user,
        org_name=org,  # security-proxy logs the display name: its key comes from the alias map
        roles=roles,
        client_ip=match["ip"],
        response_time_ms=duration if duration is not None and duration < 2**31 else None,
        response_size=None if size == "-" or len(size) > 18 else int(size),
        referrer=_unquote_field(match["referrer"]),
        user_agent=_unquote_field(match["agent"]),
    )
