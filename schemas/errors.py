"""The one root exception of tasqlake and its families.

Every failure that reaches a user is a :class:`TasqlakeError`. Boundaries (redis, pyarrow,
duckdb, the file system) translate their own exceptions into one of these, with a message that
names the object involved and says what to do next. The CLI prints ``str(error)`` on one line
and exits with :attr:`TasqlakeError.exit_code`; it never shows a traceback for these.
"""

from __future__ import annotations

import re


class TasqlakeError(Exception):
    """Root of every error tasqlake raises on purpose."""

    exit_code: int = 1


class ConfigError(TasqlakeError):
    """A setting is missing, malformed or contradicts another one."""

    exit_code = 2


class PayloadError(TasqlakeError):
    """A payload cannot be turned into a stored event; it goes to quarantine with ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StorageError(TasqlakeError):
    """The lake (or the WAL) cannot be read or written."""

    exit_code = 3


class CommitConflictError(StorageError):
    """An exclusive commit found its name taken: another writer committed that file first."""


class BrokerError(TasqlakeError):
    """Redis cannot be reached, refused us, or dropped the subscription."""

    exit_code = 4


class QueryError(TasqlakeError):
    """A query or a view definition failed in DuckDB."""

    exit_code = 5


def error_reason(error: BaseException) -> str:
    """The line of ``error``'s message that says what went wrong, to quote in another message.

    Usually its first line; but when DuckDB fails inside a Python file system (an S3 lake is
    read through obstore's fsspec adapter) its message is that exception's traceback, whose
    first line is "Traceback (most recent call last):": then the exception's own line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("Traceback (most recent call last)"):
        raised = [line for line in lines if re.match(r"^[\w.]+(?:Error|Exception): ", line)]
        if raised:
            return raised[-1]
    return lines[0]
