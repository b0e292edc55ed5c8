"""Who sent a request, as the record keeps it (docs/classification.md): robot or not and which, country and
region of the client address, client application. Built once per run from the settings; every part is cached
per user agent, referrer or address, so a record costs a few dictionary lookups."""

from __future__ import annotations

from dataclasses import dataclass

from georchestra_analytics.parser.client_apps import ClientApps
from georchestra_analytics.parser.geolocation import Locator, MaxMindLocator, NoLocator, PackagedLocator
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


class Audience:
    def __init__(self, settings: ParserSettings) -> None:
        self.robots = RobotDetector(settings.robot_patterns)
        self.locator = locator_for(settings)
        self.client_apps = ClientApps(settings.applications)

    def visitor(self, user_agent: str | None, agent: UserAgent, referrer: str | None, client_ip: str | None) -> Visitor:
        """`client_ip` is the address as logged, before the privacy rules: only its country and region are
        kept from here."""
        robot = self.robots.detect(user_agent, agent["device"], agent["family"])
        country, region = self.locator.locate(client_ip)
        app = self.client_apps.label(user_agent, agent["family"], referrer, robot is not None)
        return Visitor(robot, country, region, app)
