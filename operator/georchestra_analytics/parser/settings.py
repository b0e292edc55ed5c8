"""Settings of the parse job: schema, batch size, application mapping, organisation aliases, privacy. Built from
an AnalyticsStack (`from_stack`), or defaults for the dry-run and tests."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from georchestra_analytics.stack import AnalyticsStack, duration_hours, environment
from georchestra_analytics.stack.parsing import DEFAULT_APPLICATIONS as STACK_APPLICATIONS

# Path prefix -> application: the stack's defaults, one list for the CRD, the operator and the parser.
DEFAULT_APPLICATIONS: dict[str, str] = dict(STACK_APPLICATIONS)

# A stack's parse job takes records up to a day ahead of its clock (a source's clock may be a little off).
STACK_MAX_FUTURE = timedelta(days=1)


class ClientIpPolicy(StrEnum):
    TRUNCATE = "truncate"  # IPv4 /24, IPv6 /48
    DROP = "drop"
    KEEP = "keep"


# Where the parse job mounts spec.parser.geolocation.maxmindDatabase's claim.
GEOLOCATION_MOUNT = "/var/lib/georchestra-analytics/geolocation"


class SettingsError(ValueError):
    """The parser settings cannot be used (a system fault, not a bad record)."""


@dataclass(frozen=True)
class PrivacySettings:
    client_ip: ClientIpPolicy = ClientIpPolicy.TRUNCATE
    pseudonymize_users: bool = False
    # Name of the environment variable holding the HMAC key: the secret itself never appears in settings.
    pseudonym_key_env: str = environment.PSEUDONYMIZATION_KEY
    drop_query_strings: bool = False

    def pseudonym_key(self) -> bytes | None:
        if not self.pseudonymize_users:
            return None
        key = os.environ.get(self.pseudonym_key_env, "")
        if not key:
            raise SettingsError(
                f"user pseudonymisation is on but the environment variable {self.pseudonym_key_env} is empty"
            )
        return key.encode()


@dataclass(frozen=True)
class GeolocationSettings:
    country: bool = True  # as a stack without spec.parser.geolocation (privacy.clientIp truncate)
    region: bool = False
    # A MaxMind DB file; None: the country database shipped with the parser.
    database_file: str | None = None


@dataclass(frozen=True)
class ParserSettings:
    schema: str = "analytics"
    batch_size: int = 5000
    max_batches: int = 0  # per worker; 0 drains the buffer
    workers: int = 1
    # Parse connections per worker process: one classifies a batch while another's batch is being written
    # (timescaledb: one more refreshes the hourly aggregates behind the drain, parser/refresh_alongside.py).
    connections: int = 2
    applications: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_APPLICATIONS))
    # Organisation key -> its display names (spec.parser.organisationAliases); empty: each name is its own key.
    organisation_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (family, case-insensitive substring of the user agent): robots besides the shipped list (parser/robots.py).
    robot_patterns: tuple[tuple[str, str], ...] = ()
    geolocation: GeolocationSettings = field(default_factory=GeolocationSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    # Records dated before now - max_age or after now + max_future are rejected: older than the raw retention
    # they would be deleted at once, and a far-off date would only create partitions or chunks. None: no bound.
    max_age: timedelta | None = None
    max_future: timedelta | None = None

    def replace(self, **changes: Any) -> ParserSettings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_stack(cls, stack: AnalyticsStack) -> ParserSettings:
        spec = stack.spec
        parser = spec.parser
        raw_hours = duration_hours(spec.retention.raw)
        geo = parser.geolocation
        database = geo.maxmind_database
        return cls(
            schema=spec.database.schema_name,
            batch_size=parser.batch_size,
            max_batches=parser.max_batches,
            workers=parser.parallelism,
            applications={route.path_prefix: route.app for route in parser.applications},
            organisation_aliases={alias.key: tuple(alias.names) for alias in parser.organisation_aliases},
            robot_patterns=tuple((p.family, p.user_agent_contains) for p in parser.robots.extra_patterns),
            geolocation=GeolocationSettings(
                # Unset: on unless the address is dropped (docs/privacy.md).
                country=geo.country if geo.country is not None else parser.privacy.client_ip != "drop",
                region=geo.region,
                database_file=None if database is None else f"{GEOLOCATION_MOUNT}/{database.file}",
            ),
            max_age=None if raw_hours is None else timedelta(hours=raw_hours),
            max_future=STACK_MAX_FUTURE,
            privacy=PrivacySettings(
                client_ip=ClientIpPolicy(parser.privacy.client_ip),
                pseudonymize_users=parser.privacy.pseudonymization_key is not None,
                drop_query_strings=parser.privacy.drop_query_strings,
            ),
        )
