"""What can go wrong talking to Superset, as exceptions whose messages tell an admin what to fix.

No message ever carries a password or a token: they name the URL, the user and what Superset answered.
"""

from __future__ import annotations


class SupersetError(Exception):
    """Any failure of a Superset operation."""


class SupersetUnreachable(SupersetError):
    """No HTTP answer at all: DNS, refused connection, TLS, time-out."""


class SupersetLoginRefused(SupersetError):
    """Superset answered the login, and said no."""


class SupersetAssetsApiMissing(SupersetError):
    """`/api/v1/assets/import/` does not exist on this Superset (older than 2.1)."""


class SupersetApiError(SupersetError):
    """Superset answered a request with an error status."""

    def __init__(self, message: str, status: int, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail  # Superset's own words, for callers that reword the message
