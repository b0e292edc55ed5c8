"""Running the collector's VRL programs and reading its rendered configuration the way Vector does.

No Vector binary is available to the tests. What stands in for it, and how faithfully:
- VRL programs run in the real VRL compiler and runtime (the vrl-python package).
- vrl-python cannot take a timestamp as input, while Vector's sources hand VRL real timestamps; `run_remap`
  therefore turns every `datetime` of the input event into a VRL timestamp with a one-line prelude, so the
  program under test sees the types it sees in Vector.
- vrl-python gives timestamps back as display strings; `run_remap` reports which output fields are timestamps
  (an epilogue asks VRL), and `sink_json` writes them as Vector's JSON encoder does (RFC 3339, `Z`).
- `interpolate_environment` follows Vector's config loader (src/config/vars.rs): `$$` is a literal `$`,
  `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:?error}`..., a missing variable is an error (strict mode).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from vrl_python import VRLRuntime

from georchestra_analytics.render.vector import BUFFER_DSN_ENV, CollectorSettings, FileSettings, SyslogSettings

_RUNTIME = VRLRuntime(None)

# Vector's own pattern for environment variables in a configuration file.
_VARIABLE = re.compile(
    r"""\$\$|\$([\w.]+)|\$\{([\w.]+)(?:(:?-|:?\?)([^}]*))?\}""",
    re.ASCII,
)
_DISPLAYED_TIMESTAMP = re.compile(r"^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) UTC$")

_KIND_EPILOGUE = """
map_values(.) -> |value| {
  if is_timestamp(value) { "timestamp" } else if is_string(value) { "string" } else if is_integer(value) {
    "integer" } else if is_float(value) { "float" } else if is_boolean(value) { "boolean" } else if is_object(
    value) { "object" } else if is_array(value) { "array" } else { "null" }
}
"""


class MissingEnvironmentVariable(KeyError):
    """Vector (strict mode) refuses to start when the configuration names an unset variable."""


@dataclass(frozen=True)
class RemapOutput:
    event: dict[str, Any]
    """The event after the program, timestamps as vrl-python displays them."""
    kinds: dict[str, str]
    """VRL type of each top-level field of the output: timestamp, string, integer, object, null..."""


def run_condition(program: str, event: Mapping[str, Any]) -> bool:
    """The value of a filter condition for `event`."""
    prelude, plain_event = _typed_prelude(event)
    result = _RUNTIME.execute(prelude + program, plain_event).runtime_result
    if not isinstance(result, bool):
        raise AssertionError(f"a filter condition must give a boolean, this one gave {result!r}")
    return result


def run_remap(program: str, event: Mapping[str, Any]) -> RemapOutput:
    """Run a remap program on `event` (datetimes become VRL timestamps) and return the event it leaves."""
    prelude, plain_event = _typed_prelude(event)
    result = _RUNTIME.execute(prelude + program + "\n" + _KIND_EPILOGUE, plain_event)
    return RemapOutput(event=dict(result.processed_event), kinds=dict(result.runtime_result))


def sink_json(output: RemapOutput) -> dict[str, Any]:
    """The event as the postgres sink serialises it into its `$1` jsonb array (timestamps in RFC 3339)."""
    encoded: dict[str, Any] = {}
    for key, value in output.event.items():
        if output.kinds.get(key) == "timestamp":
            match = _DISPLAYED_TIMESTAMP.match(value)
            if match is None:
                raise AssertionError(f"unexpected timestamp display {value!r}")
            value = f"{match.group(1)}T{match.group(2)}Z"
        encoded[key] = value
    return encoded


def interpolate_environment(text: str, environment: Mapping[str, str]) -> str:
    """The configuration text after Vector's environment interpolation (strict mode)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        flag = match.group(3) or ""
        fallback = match.group(4) or ""
        value = environment.get(name)
        if flag == ":-":
            return value if value else fallback
        if flag == "-":
            return fallback if value is None else value
        if flag in (":?", "?") and (value is None or (flag == ":?" and value == "")):
            raise MissingEnvironmentVariable(f"{name}: {fallback}")
        if value is None:
            raise MissingEnvironmentVariable(name)
        if "\n" in value or "\r" in value:
            raise ValueError(f"Vector refuses the variable {name}: it holds a line break")
        return value

    return _VARIABLE.sub(replace, text)


def load_config(text: str, environment: Mapping[str, str]) -> dict[str, Any]:
    """Interpolate then parse a rendered configuration, as Vector's loader does."""
    loaded = yaml.safe_load(interpolate_environment(text, environment))
    if not isinstance(loaded, dict):
        raise AssertionError("a Vector configuration is a mapping")
    return loaded


def _typed_prelude(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Top-level datetimes of `event` become RFC 3339 strings plus a VRL line that parses them back."""
    lines: list[str] = []
    plain: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dt.datetime):
            if not key.isidentifier() or not key.isascii():
                raise ValueError(f"{key!r}: only a plain field name can hold a timestamp in these tests")
            if value.tzinfo is None:
                raise ValueError(f"{key}: use an aware datetime, Vector timestamps are UTC")
            plain[key] = value.isoformat()
            path = "." + key
            lines.append(f'{path} = parse_timestamp({path}, "%+") ?? {path}')
        else:
            plain[key] = value
    return "".join(line + "\n" for line in lines), plain


# The buffer table's columns, as the shared contract fixes them (the db-tier test compares them with the table
# the migrations create).
BUFFER_COLUMNS = frozenset(
    {
        "timestamp",
        "observed_timestamp",
        "message",
        "attributes",
        "resources",
        "scope",
        "trace_id",
        "span_id",
        "severity_text",
        "severity_number",
        "flags",
        "dropped_attributes_count",
        "source_type",
    }
)
INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1


def gateway_event(**overrides: Any) -> dict[str, Any]:
    """A Gateway access-log record as Vector's opentelemetry source emits it (legacy log namespace)."""
    url = "https://georchestra.example.org/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp%3Astates"
    event: dict[str, Any] = {
        "message": f"GET 200 {url}",
        "attributes": {
            "http.request.method": "GET",
            "http.status_code": "200",
            "http.request.url": url,
            "http.request.id": "7c0e5c8e-52f4-4d1b-9a44-1f0f3f3f1e2a",
            "enduser.id": "testadmin",
            "enduser.org.id": "PSC",
            "enduser.roles": "ROLE_ADMINISTRATOR,ROLE_USER",
        },
        "resources": {"service.name": "georchestra-gateway", "host.name": "gateway-6f7d9c-x2x8b"},
        "scope": {"name": "org.georchestra.gateway.accesslog", "version": "", "attributes": {}},
        "trace_id": "4ac52aadf321c2e531db005df08792f5",
        "span_id": "0b9e4bda2a55530d",
        "severity_text": "INFO",
        "severity_number": 9,
        "flags": 1,
        "dropped_attributes_count": 0,
        "timestamp": dt.datetime(2026, 11, 27, 9, 30, 12, 345678, tzinfo=dt.UTC),
        "observed_timestamp": dt.datetime(2026, 11, 27, 9, 30, 12, 400000, tzinfo=dt.UTC),
        "source_type": "opentelemetry",
    }
    event.update(overrides)
    return event


SECURITY_PROXY_LINE = (
    "192.0.2.10 - testuser|Project Steering Committee|ROLE_USER,ROLE_GN_EDITOR [27/Nov/2026:10:31:02 +0100] "
    '"GET http://geoserver:8080/geoserver/wms?SERVICE=WMS&REQUEST=GetCapabilities HTTP/1.1" 200 10532 "-" '
    '"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0" - "geoserver" "-" 42ms'
)
NGINX_COMBINED_LINE = (
    '198.51.100.7 - - [27/Nov/2026:09:15:44 +0000] "GET /geoserver/gwc/service/wmts?REQUEST=GetTile&LAYER=ne:'
    'countries HTTP/1.1" 200 18233 "https://georchestra.example.org/mapstore/" "Mozilla/5.0 QGIS/33400"'
)


# Named outputs of the components this project uses (`<id>.<output>` in an `inputs` list).
_NAMED_OUTPUTS = {"opentelemetry": {"logs", "metrics", "traces"}}


def topology_problems(config: Mapping[str, Any]) -> list[str]:
    """What Vector's topology builder would refuse, or what would silently lose events, in a loaded config.

    Every input must name an existing source or transform (or a named output of one); every source and
    transform must reach a sink (a component feeding nothing drops its events); there must be no cycle.
    """
    sources: dict[str, Any] = dict(config.get("sources") or {})
    transforms: dict[str, Any] = dict(config.get("transforms") or {})
    sinks: dict[str, Any] = dict(config.get("sinks") or {})
    problems: list[str] = []
    ids = [*sources, *transforms, *sinks]
    if len(ids) != len(set(ids)):
        problems.append("a component id is used twice")

    def resolve(reference: str) -> str | None:
        if reference in sources or reference in transforms:
            return reference
        owner, _, output = reference.rpartition(".")
        kind = str((sources.get(owner) or transforms.get(owner) or {}).get("type"))
        if output in _NAMED_OUTPUTS.get(kind, set()):
            return owner
        return None

    feeds: dict[str, set[str]] = {name: set() for name in ids}
    for name, component in {**transforms, **sinks}.items():
        inputs = component.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            problems.append(f"{name} has no inputs")
            continue
        for reference in inputs:
            upstream = resolve(reference)
            if upstream is None:
                problems.append(f"{name} reads {reference!r}, which does not exist")
            else:
                feeds[upstream].add(name)

    def reaches_sink(name: str, seen: frozenset[str]) -> bool:
        if name in sinks:
            return True
        if name in seen:
            problems.append(f"cycle through {name}")
            return False
        return any(reaches_sink(child, seen | {name}) for child in feeds[name])

    for name in [*sources, *transforms]:
        if not reaches_sink(name, frozenset()):
            problems.append(f"{name} reaches no sink: its events would be dropped")
    return problems


def transform_sources(config: Mapping[str, Any]) -> dict[str, str]:
    """The VRL text of every remap transform and VRL filter condition, by component id."""
    programs: dict[str, str] = {}
    for name, component in (config.get("transforms") or {}).items():
        if component.get("type") == "remap":
            programs[name] = component["source"]
        elif component.get("type") == "filter":
            programs[name] = component["condition"]["source"]
    return programs


def stack_document(collector: Mapping[str, Any] | None = None, schema: str | None = None) -> dict[str, Any]:
    """An AnalyticsStack manifest with a managed database and the given `spec.collector`."""
    database: dict[str, Any] = {"managed": {}}
    if schema is not None:
        database["schema"] = schema
    return {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "georchestra"},
        "spec": {"database": database, "collector": dict(collector or {})},
    }


# The scenarios docs/collector.md describes, as `spec.collector` sections (and a schema name).
COLLECTOR_SCENARIOS: dict[str, tuple[dict[str, Any], str | None]] = {
    "defaults": ({}, None),
    "syslog over tcp": (
        {"syslog": {"port": 5140, "mode": "tcp", "logFormat": "combined", "delivery": "atMostOnce"}},
        None,
    ),
    "syslog over udp": ({"syslog": {"port": 1514, "mode": "udp", "logFormat": "clf", "delivery": "atMostOnce"}}, None),
    "files": (
        {
            "replicas": 1,
            "files": {
                "claimName": "proxy-logs",
                "paths": ["security-proxy/access*.log", "nginx/access.log"],
                "logFormat": "security-proxy",
            },
        },
        None,
    ),
    "disk buffer": ({"buffer": {"type": "disk", "maxSize": 2 << 30, "whenFull": "block"}}, None),
    "custom scopes and schema": (
        {"acceptedScopes": ["org.georchestra.gateway.accesslog", "com.example.portal.accesslog"]},
        "geo_stats",
    ),
    "no acknowledgements, dropping when full": (
        {"acknowledgements": False, "buffer": {"type": "memory", "maxEvents": 500, "whenFull": "drop_newest"}},
        None,
    ),
    "every source": (
        {
            "replicas": 1,
            "buffer": {"type": "disk", "maxSize": 268435488},
            "syslog": {"port": 6514, "delivery": "atMostOnce"},
            "files": {"claimName": "logs", "paths": ["*.log"]},
        },
        None,
    ),
}


# Stack values that could break the configuration (YAML, Vector's `$` interpolation, Jinja, VRL literals).
HOSTILE_VALUES = [
    "\"quoted\" and 'single'",
    "line\nbreak: value\n- item",
    "${" + BUFFER_DSN_ENV + "} $HOME $$ $",
    "{{ jinja }} {% raw %} #comment",
    "back\\slash \\n \\u0000",
    "nul\x00 and bell\x07 and del\x7f and nel\x85 and ls\u2028",
    "émoji 😀 and \ufeffbom",
]


def hostile_settings(value: str) -> CollectorSettings:
    """Collector settings with `value` in every free-text place: schema, scope, formats, file path.

    PostgreSQL names and file paths cannot hold NUL (the renderer refuses it), so it is removed from those."""
    without_nul = value.replace("\x00", "")
    return CollectorSettings(
        schema=without_nul,
        accepted_scopes=(value,),
        syslog=SyslogSettings(port=5140, mode="tcp", log_format=value),
        files=FileSettings(paths=(without_nul,), log_format=value),
    )
