"""The client-address rule applied to a reject's stored input: `rejected_logs.raw` keeps the input unparsed,
so every IP address in its strings (a log line's client, the Gateway's `/ip:port`, an X-Forwarded-For list)
becomes what a record's `client_ip` would be: truncated (IPv4 /24, IPv6 /48) by default, `-` when addresses
are dropped, unchanged when they are kept. A dotted quad that is not an address of a client (a version
`1.2.3.4` in a URL) is truncated too: the rule errs on the side of the people in the logs.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from georchestra_analytics.parser.privacy import Privacy
from georchestra_analytics.parser.settings import ClientIpPolicy

_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9.])")
# At most 7 groups, each at most 4 digits: bounded, so no input makes it slow. An IPv4-mapped tail
# (`::ffff:192.0.2.1`) is left to the IPv4 pattern.
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:.])")
DROPPED = "-"


class RejectPrivacy:
    def __init__(self, privacy: Privacy) -> None:
        self.privacy = privacy
        self.active = privacy.settings.client_ip is not ClientIpPolicy.KEEP

    def _address(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            ipaddress.ip_address(text)
        except ValueError:  # 12:34:56, 999.1.1.1: not an address
            return text
        return self.privacy.client_ip(text) or DROPPED

    def _text(self, value: str) -> str:
        if "." in value:
            value = _IPV4.sub(self._address, value)
        if value.count(":") >= 2:
            value = _IPV6.sub(self._address, value)
        return value

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {key: self._walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        return value

    def apply(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A copy of `raw` with its addresses rewritten (`raw` itself when addresses are kept)."""
        if not self.active:
            return raw
        result: dict[str, Any] = self._walk(raw)
        return result
