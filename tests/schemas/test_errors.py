"""error_reason: the line of an error that says what went wrong, quoted in another message."""

from __future__ import annotations

from tasqlake.schemas.errors import StorageError, error_reason


def test_the_first_line_of_a_plain_message() -> None:
    assert error_reason(ValueError("\n  cannot read x\nLINE 1: detail\n")) == "cannot read x"


def test_an_empty_message_is_named_by_its_type() -> None:
    assert error_reason(StorageError("")) == "StorageError"


def test_a_python_traceback_inside_duckdbs_message_gives_the_exception_line() -> None:
    # what DuckDB reports when a Python file system (S3 through fsspec) raised
    message = (
        "Traceback (most recent call last):\n"
        '  File "fsspec/asyn.py", line 66, in sync\n'
        "    raise return_result\n"
        "FileNotFoundError: s3://bucket/lake/events/date=2026-11-29/hour=10/a.parquet\n"
    )
    assert error_reason(OSError(message)) == (
        "FileNotFoundError: s3://bucket/lake/events/date=2026-11-29/hour=10/a.parquet"
    )
