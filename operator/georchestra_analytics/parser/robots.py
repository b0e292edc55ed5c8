"""Is the client a robot, and which one (docs/classification.md, Robots).

Three sources, first match wins: the stack's own patterns (spec.parser.robots.extraPatterns: the platform's
monitoring probes, say), ua-parser's device family `Spider`, and the crawler list the `crawler-user-agents`
package ships (MIT, one JSON file released every few weeks). HTTP libraries that list tags `http-library`
alone (python-requests, curl, ...) are not robots here: on a map platform they are mostly people's scripts, and
parser/client_apps.py names them as such.

The list is ~1,500 regular expressions: matching one agent against all of them takes a fifth of a millisecond,
so answers are cached per user-agent string (a platform sees a few thousand distinct agents a day).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from georchestra_analytics.parser.bounds import MAX_USER_AGENT_CHARS, MAX_USER_AGENT_PART_CHARS, clean
from georchestra_analytics.parser.memo import short_key_cache

SPIDER_DEVICE = "Spider"  # ua-parser's device family of the robots it knows
_SCRIPT_ONLY = frozenset({"http-library"})
# An http-library entry whose name says it crawls is a robot all the same (Scrapy, HTTrack, crawler4j).
_CRAWLS = re.compile(r"crawl|spider|scrap|bot|httrack", re.IGNORECASE)
CHUNK = 25  # patterns per alternation (see RobotDetector)
# The literal head of a pattern: its family name when it has one of at least 3 characters.
_LITERAL_HEAD = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{2,}")


# Health checks and uptime probes the crawler list does not name, common on geOrchestra platforms; the stack's
# extraPatterns add its own. (family, case-insensitive substring of the user agent)
PLATFORM_PROBES: tuple[tuple[str, str], ...] = (
    ("kube-probe", "kube-probe/"),
    ("GeoHealthCheck", "geohealthcheck"),
    ("Prometheus", "prometheus/"),
    ("Consul Health Check", "consul health check"),
    ("ELB-HealthChecker", "elb-healthchecker/"),
    ("GoogleHC", "googlehc/"),
)


@dataclass(frozen=True, slots=True)
class RobotPattern:
    family: str
    pattern: str  # a Python regular expression, searched case-sensitively as the list writes them


def _family_of(pattern: str) -> str | None:
    text = pattern.lstrip("^(").replace("\\/", "/").replace("\\.", ".").replace("\\ ", " ").replace("\\-", "-")
    head = _LITERAL_HEAD.match(text)
    return head[0].strip(" ./-") if head else None


@lru_cache(maxsize=1)
def crawler_list() -> tuple[RobotPattern, ...]:
    """The packaged crawler list, without the entries that are only HTTP libraries."""
    data = json.loads(resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text("utf-8"))
    found = []
    for entry in data:
        pattern = entry["pattern"]
        if set(entry.get("tags") or ()) <= _SCRIPT_ONLY and entry.get("tags") and not _CRAWLS.search(pattern):
            continue
        found.append(RobotPattern(_family_of(pattern) or "", pattern))
    return tuple(found)


@lru_cache(maxsize=1)
def _chunks() -> tuple[tuple[re.Pattern[str], tuple[tuple[re.Pattern[str], str], ...]], ...]:
    """Python's re searches one alternation of 1,500 patterns slowly (about 1 ms an agent, 80 with a group per
    pattern); small alternations keep each pattern's literal-prefix search. Chunks of CHUNK patterns are tried
    in turn, and the patterns of the chunk that matched, one by one, name the family (~0.2 ms an agent)."""
    patterns = crawler_list()
    return tuple(
        (
            re.compile("|".join(f"(?:{pattern.pattern})" for pattern in patterns[start : start + CHUNK])),
            tuple((re.compile(pattern.pattern), pattern.family) for pattern in patterns[start : start + CHUNK]),
        )
        for start in range(0, len(patterns), CHUNK)
    )


class RobotDetector:
    """The robots of one run: extra patterns (the stack's, then PLATFORM_PROBES) are case-insensitive substrings
    of the user agent, each with the family to record."""

    def __init__(self, extra: Iterable[tuple[str, str]] = ()) -> None:
        self._extra = tuple((family, text.casefold()) for family, text in (*extra, *PLATFORM_PROBES) if text)
        self._chunks = _chunks()
        self.detect = short_key_cache(16384)(self._detect)

    def _detect(self, user_agent: str | None, device: str | None, family: str | None) -> str | None:
        """The robot family, or None for a person. `device` and `family` are ua-parser's for this agent."""
        if not user_agent:
            return None
        agent = user_agent[:MAX_USER_AGENT_CHARS]
        if self._extra:
            folded = agent.casefold()
            for name, text in self._extra:
                if text in folded:
                    return name
        if device == SPIDER_DEVICE:
            return _bounded(family or agent)
        for chunk, members in self._chunks:
            if chunk.search(agent) is None:
                continue
            for regex, name in members:
                match = regex.search(agent)
                if match is not None:
                    return _bounded(name or match[0])
        return None


def _bounded(name: str) -> str:
    return clean(name.strip(), MAX_USER_AGENT_PART_CHARS) or "robot"
