"""Durations as people write them: ``90d``, ``12h``, ``30m``, ``45s``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

from tasqlake.schemas.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, where: str, *, allow_zero: bool = False) -> timedelta:
    """A duration like ``90d``; ``where`` names the flag, variable or key in the error.

    Zero (``0s``, ``0d``) is a duration too; it is accepted only where it means something
    (``allow_zero``, e.g. a grace period of none) and refused with "must be greater than 0"
    elsewhere.
    """
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{where} must be a duration like 90d, 12h, 30m or 45s, got {text!r}")
    amount = float(match.group(1))
    if amount == 0 and not allow_zero:
        raise ConfigError(f"{where} must be greater than 0, got {text!r}")
    return timedelta(seconds=amount * _UNIT_SECONDS[match.group(2)])
