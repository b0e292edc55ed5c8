"""The aggregate families an older version of the code knew, for tests that build the database that version
left (`migrate(..., migrations=before)`): the repeatable views and grants and the policies of this version name
every family, among them those a later migration creates, which do not exist yet at that point."""

from __future__ import annotations

import pytest

from georchestra_analytics.db import aggregates, partitions, refresh, timescale_policies

# The migration that creates each family after 0003's.
ADDED_BY = {
    **dict.fromkeys(aggregates.EXTENT_FAMILIES, "0009"),
    **dict.fromkeys(aggregates.AUDIENCE_FAMILIES, "0010"),
}


def families_before(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Until `monkeypatch` is undone, the code knows only the families of the migrations before `version`."""
    families = tuple(f for f in aggregates.FAMILIES if ADDED_BY.get(f, "0003") < version[:4])
    for module in (aggregates, timescale_policies, partitions, refresh):
        monkeypatch.setattr(module, "FAMILIES", families)
