"""The country (and, from a MaxMind-format file, the region) of a client address, looked up from the whole
address before the privacy rules truncate or drop it (docs/privacy.md). Only the country and region codes are
stored; the address itself follows spec.parser.privacy.clientIp.

Two databases: the one the `iptocc` package ships (MIT OR Apache-2.0; the countries the five Regional Internet
Registries assign each address block to, refreshed with each release; no regions), or a MaxMind DB file the
administrator provides (GeoLite2/GeoIP2 Country or City, DB-IP lite, ...), read with `maxminddb`; its
subdivision gives the region. Answers are cached per address: a run sees the same clients many times.
"""

from __future__ import annotations

from typing import Any, Protocol

import iptocc
import maxminddb

from georchestra_analytics.parser.memo import short_key_cache
from georchestra_analytics.parser.settings import SettingsError
from georchestra_analytics.parser.sources.addresses import parse_ip

# An address of these ranges has no country: private, loopback, link-local, documentation, ...
_NOWHERE = ("is_private", "is_loopback", "is_link_local", "is_multicast", "is_reserved", "is_unspecified")


class GeolocationError(SettingsError):
    """The configured database cannot be read (a system fault, not a bad record)."""


def plain_address(address: str) -> str | None:
    """The IP of `address` as text (the socket-address forms of parser/sources/addresses.py, IPv4-mapped IPv6
    as IPv4), or None when it is not a public address."""
    ip = parse_ip(address)
    if ip is None or any(getattr(ip, flag) for flag in _NOWHERE):
        return None
    return str(ip)


class Locator(Protocol):
    def locate(self, address: str | None) -> tuple[str | None, str | None]:
        """(ISO 3166-1 alpha-2 country, ISO 3166-2 region code without the country) of the address."""
        ...


class NoLocator:
    """Geolocation off: nothing is looked up."""

    def locate(self, address: str | None) -> tuple[str | None, str | None]:
        return None, None


def _country_code(value: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code as stored: two ASCII capitals, or nothing."""
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    return None


def _region_code(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 3 and value.isascii() and value.isalnum():
        return value.upper()
    return None


class PackagedLocator:
    """Countries from the database the iptocc package ships; it has no regions."""

    def __init__(self) -> None:
        self._cached = short_key_cache(65536, max_chars=128)(self._locate)

    def _locate(self, address: str | None) -> tuple[str | None, str | None]:
        ip = plain_address(address) if address else None
        if ip is None:
            return None, None
        return _country_code(iptocc.country_code(ip)), None

    def locate(self, address: str | None) -> tuple[str | None, str | None]:
        return self._cached(address)


class MaxMindLocator:
    """Countries, and regions when `regions` is on and the file has subdivisions, from a MaxMind DB file."""

    def __init__(self, path: str, regions: bool = False) -> None:
        try:
            self._reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            raise GeolocationError(f"cannot read the MaxMind DB file {path!r}: {error}") from error
        self._regions = regions
        self._cached = short_key_cache(65536, max_chars=128)(self._locate)

    def _locate(self, address: str | None) -> tuple[str | None, str | None]:
        ip = plain_address(address) if address else None
        if ip is None:
            return None, None
        try:
            found = self._reader.get(ip)
        except ValueError:  # an IPv6 address in an IPv4-only file
            return None, None
        if not isinstance(found, dict):
            return None, None
        country = found.get("country") or found.get("registered_country") or {}
        code = _country_code(country.get("iso_code") if isinstance(country, dict) else None)
        region = None
        if self._regions and code is not None:
            subdivisions = found.get("subdivisions")
            if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
                region = _region_code(subdivisions[0].get("iso_code"))
        return code, region

    def locate(self, address: str | None) -> tuple[str | None, str | None]:
        return self._cached(address)
