"""Rendering query results for the terminal and for other programs.

``table`` is an aligned rich table that fits the terminal, with row count and elapsed time;
``csv`` and ``json`` are for machines (``json`` is one array of row objects, timestamps in
ISO-8601); ``parquet`` writes a file. All take an Arrow table.
"""

from __future__ import annotations

import io
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import msgspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from tasqlake.schemas.errors import ConfigError, StorageError

FORMATS = ("table", "csv", "json", "parquet")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def to_json(table: pa.Table) -> bytes:
    """One JSON array of row objects, timestamps as ISO-8601 strings."""
    rows = [{k: _iso(v) for k, v in row.items()} for row in table.to_pylist()]
    return msgspec.json.encode(rows, enc_hook=_json_default)


def _cell(value: Any) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def rich_table(table: pa.Table, title: str | None = None) -> Table:
    """``table`` as a rich Table: numbers right-aligned, nulls as ∅, long text folded."""
    view = Table(title=title, title_justify="left", show_lines=False)
    for field in table.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        view.add_column(field.name, justify="right" if numeric else "left", overflow="fold")
    for row in table.to_pylist():
        view.add_row(*(_cell(v) for v in row.values()))
    return view


def render_table(
    table: pa.Table, out: TextIO, title: str | None = None, elapsed: float | None = None
) -> None:
    # On a terminal the table fits its width; piped, rows are never folded.
    width = None if out.isatty() else 400
    console = Console(file=out, soft_wrap=False, highlight=False, width=width)
    console.print(rich_table(table, title))
    rows = table.num_rows
    summary = f"{rows} row{'s' if rows != 1 else ''}"
    if elapsed is not None:
        summary += f" in {elapsed:.3f} s"
    console.print(summary, style="dim")


def write_result(
    table: pa.Table,
    fmt: str,
    *,
    output: str | None = None,
    title: str | None = None,
    elapsed: float | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (a file path) or standard output."""
    stdout = stdout or sys.stdout
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "parquet":
        if not output:
            raise ConfigError("--format parquet needs --output FILE")
        _write_file(output, lambda path: pq.write_table(table, path, compression="zstd"))
        return
    if fmt == "csv":
        if output:
            _write_file(output, lambda path: pacsv.write_csv(table, path))
            return
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        stdout.write(buffer.getvalue().decode())
        return
    if fmt == "json":
        text = to_json(table).decode()
        if output:
            _write_file(output, lambda path: Path(path).write_text(text + "\n"))
            return
        stdout.write(text + "\n")
        return
    render_table(table, stdout, title=title, elapsed=elapsed)


def _write_file(output: str, write: Any) -> None:
    try:
        write(output)
    except OSError as error:
        raise StorageError(f"cannot write {output}: {error.strerror or error}") from error
