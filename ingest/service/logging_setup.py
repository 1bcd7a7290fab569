"""Log output of tasqlake's long-running commands: human lines, or JSON lines for collectors.

``text`` (the default) is one readable line per event of interest, with the level coloured when
stderr is a terminal (unless ``NO_COLOR`` is set). ``json`` is one JSON object per line with
``time`` (ISO-8601 UTC), ``level``, ``logger``, ``message`` and any structured fields passed as
``extra=`` (the periodic status line carries every counter). The processor child process is set
up the same way as its parent (:func:`current_setup`, :func:`configure`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_COLOURS = {"WARNING": "\x1b[33m", "ERROR": "\x1b[31m", "CRITICAL": "\x1b[1;31m"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class HumanFormatter(logging.Formatter):
    """``2026-11-29 12:00:00,123 INFO    tasqlake.ingest.service.ingest_service: message`` (level
    coloured on a tty)."""

    def __init__(self, colour: bool) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        start = _COLOURS.get(record.levelname) if self.colour else None
        return f"{start}{line}\x1b[0m" if start else line


def configure(log_format: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in ``log_format``, replacing handlers."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        colour = stream.isatty() and not os.environ.get("NO_COLOR")
        handler.setFormatter(HumanFormatter(colour))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def current_setup() -> tuple[str, int]:
    """``(format, level)`` of this process's logging, to set up a child process alike."""
    root = logging.getLogger()
    is_json = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return ("json" if is_json else "text", root.getEffectiveLevel())
