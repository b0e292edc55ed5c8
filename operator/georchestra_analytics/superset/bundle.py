"""The dashboard bundle: superset/ templates rendered into the zip Superset's assets API imports.

Every asset gets a uuid derived from the stack name and the asset's key (uuid5), so a re-render overwrites the
same assets instead of adding copies, and two stacks in one Superset do not collide. The content hash of the
bundle (computed with the hash field left empty) is stored in the dashboard's metadata: the sync reads it back
to skip an import that would change nothing. The zip is byte-for-byte reproducible.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from georchestra_analytics.render.environment import environment
from georchestra_analytics.superset.charts import chart_definition
from georchestra_analytics.superset.layout import dashboard_position, native_filters
from georchestra_analytics.superset.metrics import MEASURE_COLUMNS, metrics
from georchestra_analytics.superset.settings import BundleSettings

TEMPLATE_FOLDER = "superset"
TEMPLATE_SUFFIX = ".j2"
# Fixed so that every uuid of every stack is stable across releases: never change it.
UUID_NAMESPACE = uuid.UUID("6f1d8f0e-4b8a-5c53-9a51-2f3b7c0e9a10")
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)
DATABASE_FILE = "databases/analytics.yaml"


class BundleError(ValueError):
    """A template that renders into something Superset cannot import, with the template's name."""


def asset_uuid(stack_name: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, f"{stack_name}/{kind}/{key}"))


def sql_identifier(name: str) -> str:
    """A double-quoted SQL identifier (quotes doubled), for names our templates write into dataset SQL."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Bundle:
    """The rendered bundle: files by path inside the top folder, and what the sync needs to know."""

    top_folder: str
    files: dict[str, str]
    sha256: str
    dashboard_slug: str
    dashboard_uuid: str
    chart_uuids: dict[str, str]  # chart key -> uuid
    dataset_uuids: dict[str, str]  # dataset key -> uuid
    database_file: str = DATABASE_FILE

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.files):
                info = zipfile.ZipInfo(f"{self.top_folder}/{path}", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, self.files[path])
        return buffer.getvalue()


def _templates() -> list[str]:
    """Asset templates, relative to superset/; files starting with `_` are macros, not assets."""
    names = []
    for name in environment().list_templates():
        path = PurePosixPath(name)
        if path.parts[0] != TEMPLATE_FOLDER or not name.endswith(TEMPLATE_SUFFIX):
            continue
        if any(part.startswith("_") for part in path.parts[1:]):
            continue
        names.append(str(path.relative_to(TEMPLATE_FOLDER)))
    return sorted(names)


def _output_path(template: str) -> str:
    return template.removesuffix(TEMPLATE_SUFFIX)


def _render(template: str, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = f"{TEMPLATE_FOLDER}/{template}"
    try:
        text = environment().get_template(name).render(**context)
    except Exception as error:  # any template fault becomes a BundleError naming the template
        raise BundleError(f"{name}: {type(error).__name__}: {error}") from error
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BundleError(f"{name} renders invalid YAML: {error}") from error
    if not isinstance(parsed, dict):
        raise BundleError(f"{name} renders {type(parsed).__name__}, not a mapping")
    return text, parsed


def _hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return digest.hexdigest()


def build_bundle(settings: BundleSettings, *, external_url: str | None = None) -> Bundle:
    """Render every template of superset/ for one stack."""
    stack = settings.stack_name

    def uuid_of(kind: str) -> Callable[[str], str]:
        return lambda key: asset_uuid(stack, kind, key)

    base: dict[str, Any] = {
        "stack_name": stack,
        "schema": settings.schema,
        "schema_sql": sql_identifier(settings.schema),
        "sql_identifier": sql_identifier,
        "database_name": settings.database_name,
        "sqlalchemy_uri": settings.database.sqlalchemy_uri(),
        "time_zone": settings.time_zone,
        "external_url": external_url,
        "dashboard_slug": f"georchestra-usage-{stack}",
        "asset_uuid": lambda kind, key: asset_uuid(stack, kind, key),
        "chart_definition": chart_definition,
        "metrics": metrics(sql_identifier(settings.schema)),
        "measures": MEASURE_COLUMNS,
    }
    templates = _templates()
    files: dict[str, str] = {}
    dataset_uuids: dict[str, str] = {}
    charts: dict[str, dict[str, Any]] = {}
    dashboards: list[str] = []
    for template in templates:
        folder = PurePosixPath(template).parts[0]
        key = PurePosixPath(_output_path(template)).stem
        if folder == "dashboards":
            dashboards.append(template)
            continue
        text, parsed = _render(template, base | {"chart_key": key})
        files[_output_path(template)] = text
        if folder == "datasets":
            dataset_uuids[key] = parsed["uuid"]
        elif folder == "charts":
            charts[key] = {
                "uuid": parsed["uuid"],
                "name": parsed["slice_name"],
                "id": len(charts) + 1,
                "dataset_uuid": parsed["dataset_uuid"],
                "viz_type": parsed["viz_type"],
            }
    by_uuid = {value: key for key, value in dataset_uuids.items()}
    for key, chart in charts.items():
        if chart["dataset_uuid"] not in by_uuid:
            # Superset would skip such a chart silently: refuse the bundle instead.
            raise BundleError(f"superset/charts/{key}.yaml.j2 uses a dataset that has no template")
        chart["dataset"] = by_uuid[chart["dataset_uuid"]]
    if DATABASE_FILE not in files:
        raise BundleError(f"the templates render no {DATABASE_FILE}")

    dashboard_context = base | {
        "charts": charts,
        "dashboard_position": lambda title, tabs, placed: dashboard_position(title, tabs, placed),
        "native_filters": lambda filters, placed: native_filters(filters, placed, uuid_of("dataset")),
    }
    # Hash everything with the hash field empty, then render the dashboards again carrying it.
    for template in dashboards:
        files[_output_path(template)] = _render(template, dashboard_context | {"bundle_sha256": ""})[0]
    sha256 = _hash(files)
    for template in dashboards:
        files[_output_path(template)] = _render(template, dashboard_context | {"bundle_sha256": sha256})[0]
    return Bundle(
        top_folder=f"georchestra_analytics_{stack}",
        files=files,
        sha256=sha256,
        dashboard_slug=base["dashboard_slug"],
        dashboard_uuid=asset_uuid(stack, "dashboard", "usage"),
        chart_uuids={key: chart["uuid"] for key, chart in charts.items()},
        dataset_uuids=dataset_uuids,
    )
