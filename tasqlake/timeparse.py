"""Parsing the instants and durations users type on the command line (defined in schemas, so
queries and the CLI read them alike)."""

from __future__ import annotations

from tasqlake.schemas.durations import parse_duration
from tasqlake.schemas.instants import parse_instant

__all__ = ["parse_duration", "parse_instant"]
