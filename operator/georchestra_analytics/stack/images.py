"""Default images, pinned: a given operator version always deploys the same software."""

from __future__ import annotations

from georchestra_analytics import __version__

# The project image runs every Job (`georchestra-analytics db migrate`, `parse`, `superset sync`) and the operator.
PROJECT_IMAGE_REPOSITORY = "ghcr.io/georchestra/analytics"
VECTOR_IMAGE = "timberio/vector:0.55.0-distroless-libc"
TIMESCALEDB_IMAGE = "timescale/timescaledb:2.28.0-pg16"


def project_image() -> str:
    """The project image of this operator's own version (a development build falls back to `latest`)."""
    release = __version__ if "+" not in __version__ and __version__ != "0.0.0" else "latest"
    return f"{PROJECT_IMAGE_REPOSITORY}:{release}"
