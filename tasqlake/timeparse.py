"""Parsing the instants and durations users type on the command line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from schemas.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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


def parse_duration(text: str, flag: str) -> timedelta:
    """A duration like ``90d``, ``12h``, ``30m``, ``45s`` or ``2w``."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{flag} must be a duration like 90d, 12h, 30m or 45s, got {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
