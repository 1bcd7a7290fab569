"""Instants as people write them: ISO-8601, and without a zone taken as UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from tasqlake.schemas.errors import ConfigError


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_instant(text: str, where: str = "--as-of") -> datetime:
    """An ISO-8601 instant in UTC; ``where`` names the flag or key in the error."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{where} must be an ISO-8601 instant like 2026-11-29T12:00:00Z, got {text!r}"
        ) from None
    return as_utc(moment)
