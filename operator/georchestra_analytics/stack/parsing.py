"""The parse job: schedule, batch size, parallel workers, application mapping, organisation aliases, robots,
geolocation, privacy."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.pods import PodSettings
from georchestra_analytics.stack.references import SecretKeySelector

# Five cron fields (minute hour day-of-month month day-of-week) with numbers, names, ranges, steps, lists,
# `*` and `?`, or one of the @-shorthands Kubernetes CronJobs accept. Ranges of values are checked by the
# CronJob controller; the shape is checked here and by the CRD.
_CRON_ITEM = r"(\*|\?|[0-9A-Za-z]{1,3}(-[0-9A-Za-z]{1,3})?)(/[0-9]{1,2})?"
_CRON_FIELD = rf"{_CRON_ITEM}(,{_CRON_ITEM})*"
CRON_PATTERN = rf"^(@(yearly|annually|monthly|weekly|daily|hourly)|{_CRON_FIELD}( +{_CRON_FIELD}){{4}})$"
MSG_CRON = "parser.schedule must be a cron expression of five fields, e.g. '*/5 * * * *', or @hourly/@daily"
_CRON_RE = re.compile(CRON_PATTERN)


def _check_cron(value: str) -> str:
    if not _CRON_RE.fullmatch(value):
        raise ValueError(MSG_CRON)
    return value


CronSchedule = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": f"self.matches(r'{CRON_PATTERN}')", "message": MSG_CRON}]
        },
    ),
    AfterValidator(_check_cron),
]

APP_NAME_PATTERN = r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$"
PATH_PREFIX_PATTERN = r"^/[^\s?#]{0,255}$"


class ApplicationRoute(SpecModel):
    """Requests whose path starts with `pathPrefix` belong to application `app`."""

    path_prefix: Annotated[str, Field(min_length=1, max_length=256, pattern=PATH_PREFIX_PATTERN)]
    """URL path prefix, matched on whole path segments (`/geoserver` matches `/geoserver/ows`, not
    `/geoserver2`); the longest matching prefix wins."""
    app: Annotated[str, Field(min_length=1, max_length=63, pattern=APP_NAME_PATTERN)]
    """Application name recorded for those requests."""


# The applications of a standard geOrchestra platform, by their usual context paths.
DEFAULT_APPLICATIONS: tuple[tuple[str, str], ...] = (
    ("/geoserver", "geoserver"),
    ("/geowebcache", "geowebcache"),
    ("/geonetwork", "geonetwork"),
    ("/datahub", "datahub"),
    ("/mapstore", "mapstore"),
    ("/console", "console"),
    ("/import", "datafeeder"),
    ("/datafeeder", "datafeeder"),
    ("/extractorapp", "extractorapp"),
    ("/mviewer", "mviewer"),
    ("/data", "data-api"),
    ("/mapproxy", "mapproxy"),
    ("/mapserver", "mapserver"),
    ("/cgi-bin/mapserv", "mapserver"),
    ("/geofence", "geofence"),
    ("/cas", "cas"),
    ("/header", "header"),
    ("/analytics", "analytics"),
    ("/superset", "superset"),
)


def _default_applications() -> list[ApplicationRoute]:
    return [ApplicationRoute(path_prefix=prefix, app=app) for prefix, app in DEFAULT_APPLICATIONS]


# Typographic apostrophes and non-breaking spaces as people type them in a directory, folded to plain ones.
_FOLDED = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00a0": " ", "\u202f": " "})


def fold_organisation_name(name: str) -> str:
    """What two spellings of one organisation name share: Unicode NFC, typographic apostrophes folded, blanks
    collapsed, case folded. `Ville d\u2019Orléans` and `ville d'orléans ` match; `Orleans` does not."""
    text = unicodedata.normalize("NFC", name).translate(_FOLDED)
    return " ".join(text.split()).casefold()


ORG_KEY_PATTERN = r"^[^\s]{1,128}$"


class OrganisationAlias(SpecModel):
    """The names under which sources log the organisation `key`."""

    key: Annotated[str, Field(min_length=1, max_length=128, pattern=ORG_KEY_PATTERN)]
    """The organisation's short name, as the Gateway logs it (`enduser.org.id`): what records and dashboards
    group by."""
    names: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(min_length=1, max_length=16)]
    """Its display names, as the security-proxy logs them (`Ville d'Orléans`); matched whatever their case,
    blanks and apostrophe style. The first is the display name of records whose source logs only the key."""


ROBOT_FAMILY_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"


class RobotPattern(SpecModel):
    """User agents that contain `userAgentContains` (whatever its case) are robots of family `family`."""

    family: Annotated[str, Field(min_length=1, max_length=64, pattern=ROBOT_FAMILY_PATTERN)]
    """The robot family recorded (robot_family) and shown in the robot chart, e.g. `uptime probe`."""
    user_agent_contains: Annotated[str, Field(min_length=3, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
    """A plain text (not a regular expression) the user agent contains, e.g. `Blackbox Exporter/`."""


class Robots(SpecModel):
    """Which clients are robots: the crawler list shipped with the parser and ua-parser's spiders always count,
    with the health checks of docs/classification.md; these patterns add the platform's own."""

    extra_patterns: Annotated[list[RobotPattern], Field(max_length=256)] = Field(default_factory=list)
    """User agents to count as robots besides the shipped list: the platform's monitoring probes, say."""


MMDB_FILE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$"


class MaxMindDatabase(SpecModel):
    """A MaxMind DB file (GeoLite2/GeoIP2 Country or City, DB-IP lite, ...) on a PersistentVolumeClaim the
    administrator fills and updates; the parse job mounts it read-only."""

    claim_name: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    """The PersistentVolumeClaim, in the stack's namespace."""
    file: Annotated[str, Field(min_length=1, max_length=128, pattern=MMDB_FILE_PATTERN)]
    """The file's name at the claim's root, e.g. `GeoLite2-City.mmdb`."""


class Geolocation(SpecModel):
    """The country (and region) of each request's client address, looked up before the privacy rules truncate
    or drop the address; only the codes are stored (docs/privacy.md)."""

    country: bool | None = None
    """Look the country up. Unset: on, unless privacy.clientIp is `drop` (nothing derived from the address
    is kept then either)."""
    region: bool = False
    """Also store the region (ISO 3166-2 subdivision): needs maxmindDatabase with regions (a City file)."""
    maxmind_database: MaxMindDatabase | None = None
    """Unset: the country database shipped with the parser (Regional Internet Registry allocations, refreshed
    with each release). Set: this MaxMind DB file instead."""


class Privacy(SpecModel):
    """What the parse job keeps about the people behind the requests."""

    client_ip: Literal["truncate", "drop", "keep"] = "truncate"
    """truncate zeroes the host part (IPv4 /24, IPv6 /48); drop stores nothing; keep stores the address."""
    pseudonymization_key: SecretKeySelector | None = None
    """When set, user names are replaced by a keyed hash (HMAC-SHA256) with the key from this Secret, so
    counts per user stay possible without storing who they are."""
    drop_query_strings: bool = False
    """Do not store the raw query string (`query` column) once the request is classified."""


class ParserSpec(PodSettings):
    """The parse CronJob: buffer rows in, classified access records out."""

    schedule: CronSchedule = "*/5 * * * *"
    """Cron schedule of the parse runs, in the stack's timeZone."""
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 5_000
    """Buffer rows claimed, parsed and written per transaction."""
    parallelism: Annotated[int, Field(ge=1, le=16)] = 1
    """Parallel workers in each run's pod. Above 1, runs may also overlap (concurrencyPolicy Allow):
    workers claim distinct rows with FOR UPDATE SKIP LOCKED."""
    max_batches: Annotated[int, Field(ge=0, le=100_000)] = 0
    """Batches per worker and run; 0 drains the buffer."""
    backlog_alert_age: Annotated[int, Field(ge=60, le=604800)] = 3600
    """Seconds: when the oldest buffered record is older than this after a run, and older than after the run
    before (the backlog grows), ParserReady turns False (reason BacklogGrowing)."""
    applications: Annotated[list[ApplicationRoute], Field(max_length=256)] = Field(
        default_factory=_default_applications,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["pathPrefix"]},
    )
    """Path prefix to application mapping. Defaults to the standard geOrchestra applications; setting it
    replaces the whole list."""
    organisation_aliases: Annotated[list[OrganisationAlias], Field(max_length=10_000)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]},
    )
    """Organisation key to display names: sources that log an organisation by its display name (the
    security-proxy) count under its key, as the Gateway logs it. Empty: every logged name is its own key."""
    robots: Robots = Field(default_factory=Robots)
    """Robot detection: records say whether the client is a robot and which; the dashboards' Audience tab shows
    people by default (docs/dashboards.md)."""
    geolocation: Geolocation = Field(default_factory=Geolocation)
    """Country (and region) of the client address."""
    privacy: Privacy = Field(default_factory=Privacy)
    """Privacy rules applied before anything is stored."""

    @field_validator("applications")
    @classmethod
    def _unique_prefixes(cls, routes: list[ApplicationRoute]) -> list[ApplicationRoute]:
        # The CRD declares the list a map keyed by pathPrefix: the API server refuses duplicates too.
        seen: set[str] = set()
        for route in routes:
            if route.path_prefix in seen:
                raise ValueError(f"pathPrefix {route.path_prefix!r} is mapped twice")
            seen.add(route.path_prefix)
        return routes

    @field_validator("organisation_aliases")
    @classmethod
    def _one_key_per_name(cls, aliases: list[OrganisationAlias]) -> list[OrganisationAlias]:
        # The parse job matches names folded: two names that fold alike are one name.
        seen: dict[str, str] = {}
        for alias in aliases:
            for name in (alias.key, *alias.names):
                folded = fold_organisation_name(name)
                other = seen.setdefault(folded, alias.key)
                if other != alias.key:
                    raise ValueError(f"organisation name {name!r} is given to both {other!r} and {alias.key!r}")
        return aliases
