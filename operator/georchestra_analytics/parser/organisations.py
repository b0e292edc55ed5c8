"""One organisation, one key. The Gateway logs an organisation by its short name (`enduser.org.id`, the key)
and, with its user extras, its display name (`enduser.org.fullname`); the security-proxy logs only the display
name. The stack's alias map (spec.parser.organisationAliases) names the key of each display name, so both
sources count as one organisation; the display name is kept beside the key (`org_name`). A display name the map
does not know stays its own key, as logged (docs/classification.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from georchestra_analytics.parser.memo import short_key_cache
from georchestra_analytics.parser.settings import SettingsError
from georchestra_analytics.stack.parsing import fold_organisation_name

# Cached: a batch repeats a few organisation names many times.
name_key = short_key_cache(4096)(fold_organisation_name)


class AliasError(SettingsError):
    """The alias map names one display name under two keys."""


class OrganisationMap:
    """The alias map of one run: `key -> display names`. The first name of a key is its display name for
    records whose source logs the key alone."""

    def __init__(self, aliases: Mapping[str, Iterable[str]] | None = None) -> None:
        self._keys: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for key, names in (aliases or {}).items():
            listed = list(names)
            if listed:
                self._names[key] = listed[0]
            for alias in (key, *listed):
                folded = name_key(alias)
                known = self._keys.get(folded)
                if known is not None and known != key:
                    raise AliasError(f"organisation name {alias!r} is an alias of both {known!r} and {key!r}")
                self._keys[folded] = key

    def __bool__(self) -> bool:
        return bool(self._keys)

    def resolve(self, org_id: str | None, org_name: str | None) -> tuple[str | None, str | None]:
        """(key, display name) of what a source logged: its id (the key, or an alias of it) or, failing that,
        its display name. The display name is the one logged, else the map's first name for the key."""
        logged = org_id or org_name
        if logged is None:
            return None, None
        key = self._keys.get(name_key(logged), logged) if self._keys else logged
        return key, org_name or self._names.get(key)
