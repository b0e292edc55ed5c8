"""Superset: where the dashboards are imported, and how often they are re-synchronised."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.durations import FiniteDuration
from georchestra_analytics.stack.references import CredentialsSecret

# http(s), a host, then anything without white space; no user information before the host: the URL is written
# into the stack's ConfigMap, where a password would be readable by anyone who can read ConfigMaps.
URL_PATTERN = r"^https?://[^\s/?#@]+([/?#][^\s]*)?$"
MSG_URL = (
    "superset.url must be http(s)://host[:port][/path] without user or password (user:password@): the URL is "
    "written into the stack's ConfigMap; the account goes in superset.credentialsSecret"
)
HOST_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$"


def _url_without_credentials(url: str) -> str:
    if not re.fullmatch(URL_PATTERN, url):
        raise ValueError(MSG_URL)
    return url


class SupersetSpec(SpecModel):
    """An existing Apache Superset that receives the analytics datasets and dashboards."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [{"rule": f"self.url.matches(r'{URL_PATTERN}')", "message": MSG_URL}]
        }
    }

    url: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_url_without_credentials)]
    """Base URL of Superset's web server, as reachable from the cluster (e.g. http://superset:8088)."""
    credentials_secret: CredentialsSecret
    """Secret with the user name and password of a Superset account allowed to import assets."""
    database_name: Annotated[str, Field(min_length=1, max_length=250)] = "geOrchestra analytics"
    """Name of the analytics database connection as Superset shows it."""
    database_host: Annotated[str, Field(max_length=253, pattern=HOST_PATTERN)] | None = None
    """Host name Superset uses to reach the analytics database, when it differs from the one the cluster
    uses (Superset running elsewhere); empty uses the same host."""
    dashboards: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9][-a-z0-9_]*$")]],
        Field(max_length=64),
    ] = Field(default_factory=list)
    """Slugs of the bundled dashboards to import; empty imports all of them."""
    resync_interval: FiniteDuration = "6h"
    """How often the bundle is imported again, restoring dashboards edited or deleted in Superset. It is
    also imported whenever the bundle or this section changes."""
