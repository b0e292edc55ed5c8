"""User-agent strings to family, version, os and device. ua-parser is slow and agents repeat a lot: cached."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

from georchestra_analytics.parser.bounds import MAX_USER_AGENT_CHARS
from georchestra_analytics.parser.record import UserAgent

_UNKNOWN: UserAgent = {"family": None, "version": None, "os": None, "device": None}


def _version(*parts: str | None) -> str | None:
    kept = [part for part in parts if part]
    return ".".join(kept) if kept else None


@lru_cache(maxsize=16384)
def _parse(user_agent: str) -> tuple[str | None, str | None, str | None, str | None]:
    result = parse(user_agent)
    family = version = os_name = device = None
    if result.user_agent is not None:
        agent = result.user_agent
        family = agent.family
        version = _version(agent.major, agent.minor, agent.patch)
    if result.os is not None:
        os_name = result.os.family
        if result.os.major:
            os_name = f"{os_name} {result.os.major}"
    if result.device is not None:
        device = result.device.family
    return family, version, os_name, device


def parse_user_agent(user_agent: str | None) -> UserAgent:
    """A fresh dict each call (records are mutable); all keys null when there is no user agent."""
    if not user_agent:
        return dict(_UNKNOWN)  # type: ignore[return-value]
    family, version, os_name, device = _parse(user_agent[:MAX_USER_AGENT_CHARS])
    return {"family": family, "version": version, "os": os_name, "device": device}
