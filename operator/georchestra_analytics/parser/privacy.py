"""Privacy rules applied to every record, whatever its source: client IP truncation or removal, keyed
pseudonymisation of user names, optional removal of query strings."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from georchestra_analytics.parser.memo import short_key_cache
from georchestra_analytics.parser.record import AccessRecord
from georchestra_analytics.parser.settings import ClientIpPolicy, PrivacySettings
from georchestra_analytics.parser.sources.addresses import parse_ip


@short_key_cache(65536, max_chars=128)
def truncate_ip(address: str) -> str | None:
    """IPv4 to its /24, IPv6 to its /48; None for anything that is not an IP (a host name cannot be truncated,
    so it is not kept). Accepts the socket-address forms sources log (parser/sources/addresses.py)."""
    ip = parse_ip(address)
    if ip is None:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


class Privacy:
    """The privacy rules of one run, with the pseudonymisation key resolved once."""

    def __init__(self, settings: PrivacySettings) -> None:
        self.settings = settings
        self._key = settings.pseudonym_key()
        self._pseudonym = short_key_cache(65536)(self._hmac)

    def _hmac(self, value: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:24]

    def client_ip(self, address: str | None) -> str | None:
        if not address:
            return None
        policy = self.settings.client_ip
        if policy is ClientIpPolicy.TRUNCATE:
            return truncate_ip(address)
        if policy is ClientIpPolicy.DROP:
            return None
        return address

    def apply(self, record: AccessRecord) -> None:
        """Rewrites the record in place."""
        if self._key is not None and record["user"] is not None:
            record["user"] = self._pseudonym(record["user"])
        if self.settings.drop_query_strings:
            record["query"] = None
            referrer = record["referrer"]
            if referrer and "?" in referrer:
                record["referrer"] = referrer.split("?", 1)[0]
