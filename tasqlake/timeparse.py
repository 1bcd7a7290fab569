"""Parsing the instants and durations users type on the command line."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.durations import parse_duration
from schemas.errors import ConfigError

__all__ = ["parse_duration", "parse_instant"]


def parse_instant(text: str, flag: str = "--as-of") -> datetime:
    """An ISO-8601 instant; without a zone it is UTC. Returned in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{flag} must be an ISO-8601 instant like 2026-11-29T12:00:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
