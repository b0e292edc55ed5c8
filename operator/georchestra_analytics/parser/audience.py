"""Who sent a request, as the record keeps it (docs/classification.md): robot or not and which, country and
region of the client address, client application. Built once per run from the settings; every part is cached
per user agent, referrer or address, so a record costs a few dictionary lookups."""

from __future__ import annotations

from dataclasses import dataclass

from georchestra_analytics.parser.client_apps import ClientApps
from georchestra_analytics.parser.geolocation import Locator, MaxMindLocator, NoLocator, PackagedLocator
from georchestra_analytics.parser.memo import MAX_KEY_CHARS
from georchestra_analytics.parser.record import UserAgent
from georchestra_analytics.parser.robots import RobotDetector
from georchestra_analytics.parser.settings import ParserSettings


@dataclass(frozen=True, slots=True)
class Visitor:
    robot_family: str | None
    country: str | None
    region: str | None
    client_app: str


def locator_for(settings: ParserSettings) -> Locator:
    geo = settings.geolocation
    if not geo.country:
        return NoLocator()
    if geo.database_file is not None:
        return MaxMindLocator(geo.database_file, regions=geo.region)
    return PackagedLocator()


# Distinct (user agent, referrer) pairs kept; then the memo starts again (a run sees a few thousand).
PAIRS_KEPT = 65_536


class Audience:
    def __init__(self, settings: ParserSettings) -> None:
        self.robots = RobotDetector(settings.robot_patterns)
        self.locator = locator_for(settings)
        self.client_apps = ClientApps(settings.applications)
        # (user agent, referrer) -> (robot family, client application): one lookup for most records.
        self._pairs: dict[tuple[str | None, str | None], tuple[str | None, str]] = {}

    def _who(self, user_agent: str | None, agent: UserAgent, referrer: str | None) -> tuple[str | None, str]:
        robot = self.robots.detect(user_agent, agent["device"], agent["family"])
        return robot, self.client_apps.label(user_agent, agent["family"], referrer, robot is not None)

    def visitor(self, user_agent: str | None, agent: UserAgent, referrer: str | None, client_ip: str | None) -> Visitor:
        """`client_ip` is the address as logged, before the privacy rules: only its country and region are
        kept from here."""
        key = (user_agent, referrer)
        who = self._pairs.get(key)
        if who is None:
            who = self._who(user_agent, agent, referrer)
            if len(user_agent or "") + len(referrer or "") <= MAX_KEY_CHARS:  # no kilobyte-long key kept
                if len(self._pairs) >= PAIRS_KEPT:
                    self._pairs.clear()
                self._pairs[key] = who
        country, region = self.locator.locate(client_ip)
        return Visitor(who[0], country, region, who[1])
