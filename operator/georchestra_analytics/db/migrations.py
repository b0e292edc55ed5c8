"""The migration files: versioned (applied once, in order) and repeatable (re-applied when their text changes).

Versioned migrations live in timescale/migrations/common/ and timescale/migrations/<flavor>/, named
`NNNN_description.sql.j2`; a version number is unique across both folders. Their checksum is taken over the
template's source, so a configuration change never looks like an edited migration, while an edit does.
Repeatable units (grants, views) are compared by the checksum of their rendered text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from georchestra_analytics.db.sql_templates import checksum, render
from georchestra_analytics.render.templates import template_dir

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql\.j2$")

# Repeatable units, applied in this order after the versioned migrations.
REPEATABLE_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("grants", "grants/roles.sql.j2"),
    ("views", "views/dashboards.sql.j2"),
    ("compat_views", "views/ogc_summary_2x.sql.j2"),  # georchestra/analytics 2.x's ogc_summary_*
)


class MigrationFilesError(RuntimeError):
    """The migration files themselves are inconsistent (duplicate version, bad name)."""


@dataclass(frozen=True)
class Migration:
    version: str  # "0002_raw_tables"
    template: str  # path under timescale/
    checksum: str

    def render(self, context: dict[str, Any]) -> str:
        return render(self.template, **context)


def versioned_migrations(flavor: str) -> list[Migration]:
    root = template_dir("timescale") / "migrations"
    found: dict[str, Migration] = {}
    numbers: dict[str, str] = {}
    for folder in ("common", flavor):
        for path in sorted((root / folder).glob("*.sql.j2")):
            match = _NAME.match(path.name)
            if not match:
                raise MigrationFilesError(f"migration file {folder}/{path.name} is not named NNNN_name.sql.j2")
            number = match.group(1)
            if number in numbers:
                raise MigrationFilesError(f"migration number {number} is used twice: {numbers[number]} and {path.name}")
            numbers[number] = path.name
            version = path.name.removesuffix(".sql.j2")
            found[version] = Migration(
                version=version, template=f"migrations/{folder}/{path.name}", checksum=checksum(path.read_text())
            )
    return [found[version] for version in sorted(found)]
