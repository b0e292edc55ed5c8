"""CHANGELOG.md in Keep a Changelog 1.1.0 form: an Unreleased section, then one dated section per release, newest
first, the standard kinds of change, and a link reference for every section that points where GitHub shows it."""

from __future__ import annotations

import datetime
import re
import tomllib

import pytest
from tests.release.files import REPO

CHANGELOG = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
SECTION = re.compile(r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)
LINK = re.compile(r"^\[(?P<name>[^\]]+)\]: (?P<url>\S+)$", re.MULTILINE)
KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def _homepage() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        url: str = tomllib.load(handle)["project"]["urls"]["Homepage"]
    return url.rstrip("/")


def _sections() -> list[re.Match[str]]:
    return list(SECTION.finditer(CHANGELOG))


def _releases() -> list[tuple[str, str]]:
    """(version, date) of each released section, newest first."""
    return [(match["name"], match["date"]) for match in _sections() if match["name"] != "Unreleased"]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_title_then_unreleased_then_releases() -> None:
    assert CHANGELOG.startswith("# Changelog\n")
    assert "https://keepachangelog.com/en/1.1.0/" in CHANGELOG
    names = [match["name"] for match in _sections()]
    assert names[0] == "Unreleased"
    assert "Unreleased" not in names[1:]
    every_heading = re.findall(r"^## .*$", CHANGELOG, re.MULTILINE)
    assert len(every_heading) == len(names), f"a section heading is not `## [X.Y.Z] - YYYY-MM-DD`: {every_heading}"


def test_releases_are_plain_versions_newest_first_with_their_dates() -> None:
    releases = _releases()
    assert releases
    for version, date in releases:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
        assert date, f"{version} has no date"
        assert datetime.date.fromisoformat(date) <= datetime.date.today()
    assert [_key(version) for version, _ in releases] == sorted((_key(v) for v, _ in releases), reverse=True)
    assert [date for _, date in releases] == sorted((date for _, date in releases), reverse=True)


def test_the_project_version_has_its_section_or_is_unreleased(project_version: str) -> None:
    released = dict(_releases())
    assert project_version in released or _key(project_version) > max(map(_key, released))


def test_changes_are_grouped_by_the_standard_kinds() -> None:
    kinds = set(re.findall(r"^### (.+)$", CHANGELOG, re.MULTILINE))
    assert kinds <= KINDS, kinds - KINDS


@pytest.mark.parametrize("name", [match["name"] for match in SECTION.finditer(CHANGELOG)])
def test_every_section_has_its_link_reference(name: str) -> None:
    links = {match["name"]: match["url"] for match in LINK.finditer(CHANGELOG)}
    assert name in links, f"no `[{name}]: <url>` at the bottom"
    versions = [version for version, _ in _releases()]
    base = _homepage()
    if name == "Unreleased":
        expected = f"{base}/compare/v{versions[0]}...HEAD"
    elif name == versions[-1]:
        expected = f"{base}/releases/tag/v{name}"
    else:
        previous = versions[versions.index(name) + 1]
        expected = f"{base}/compare/v{previous}...v{name}"
    assert links[name] == expected


def test_no_link_reference_without_its_section() -> None:
    names = {match["name"] for match in _sections()}
    references = {match["name"] for match in LINK.finditer(CHANGELOG)}
    assert references == names


def test_relative_links_name_existing_files() -> None:
    for target in re.findall(r"\]\((?!https?://)([^)#]+)", CHANGELOG):
        assert (REPO / target).exists(), target


def test_sections_have_no_relative_links() -> None:
    """A section becomes the GitHub release's notes, where a link relative to the repository is broken."""
    first = _sections()[0].start()
    links = CHANGELOG.find("\n[", first)
    body = CHANGELOG[first:links]
    assert not re.findall(r"\]\((?!https?://)[^)]+\)", body)
