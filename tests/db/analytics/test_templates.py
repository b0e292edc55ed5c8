"""The SQL templates render only pre-quoted values, and the retention guard's messages say what to change.

Pure checks (no server), kept beside the database tests they protect.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from georchestra_analytics.db.context import template_context
from georchestra_analytics.db.guard import UnsafeConfiguration, check_configuration, retention_problems
from georchestra_analytics.db.migrations import REPEATABLE_TEMPLATES, versioned_migrations
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.sql_templates import Quoted, environment, render

HOSTILE = DatabaseSettings(schema='x"; DROP TABLE y; --', time_zone="Europe/Paris'); DROP TABLE z; --")


def test_a_raw_string_cannot_reach_the_sql() -> None:
    template = environment().from_string("SELECT * FROM {{ name }}")
    with pytest.raises(TypeError, match="refusing to render the unquoted value"):
        template.render(name="users; DROP TABLE users")


@pytest.mark.parametrize("flavor", ["timescaledb", "postgresql"])
def test_hostile_values_appear_only_quoted(flavor: str) -> None:
    settings = HOSTILE.with_changes(flavor=flavor)
    context = template_context(settings)
    texts = [m.render(context) for m in versioned_migrations(flavor)]
    texts += [render(template, **context) for _, template in REPEATABLE_TEMPLATES]
    texts.append(render("rollups/upsert.sql.j2", **context, family="usage", level="daily", source=Quoted("t")))
    assert any('"x""; DROP TABLE y; --"' in text for text in texts)
    assert any("'Europe/Paris''); DROP TABLE z; --'" in text for text in texts)
    for text in texts:
        # Outside quoted identifiers and literals, nothing of the hostile values is left.
        bare = re.sub(r"(?m)^\s*--.*$", "", text)  # the templates' own comments (whole lines)
        bare = re.sub(r'"(?:[^"]|"")*"', "", bare)
        bare = re.sub(r"'(?:[^']|'')*'", "", bare)
        assert "DROP TABLE" not in bare


def test_guard_names_each_unsafe_pair() -> None:
    unsafe = DatabaseSettings(retention=Retention(raw=timedelta(days=2), hourly=timedelta(days=10)))
    problems = retention_problems(unsafe)
    assert len(problems) == 2
    assert problems[0].startswith("raw retention (2 days) is not longer than the hourly aggregate's refresh window")
    assert problems[1].startswith("hourly retention (10 days) is not longer than the daily aggregate's")
    with pytest.raises(UnsafeConfiguration, match="refusing this configuration"):
        check_configuration(unsafe)
    # Rollups of the postgresql flavor are never recomputed from their source: nothing to refuse.
    assert retention_problems(unsafe.with_changes(flavor="postgresql")) == []
    assert retention_problems(DatabaseSettings()) == []
