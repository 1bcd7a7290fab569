"""Progress bars for long-running commands: a rich bar on a terminal, nothing when piped.

::

    with progress.bar("importing big.msgpack", total=path.stat().st_size, unit="bytes") as advance:
        source = progress.tracked(open(path, "rb"), advance)
        ...  # every byte read from source moves the bar

The bar goes to standard error, so standard output stays clean for the command's result. When
that stream is not a terminal (a pipe, a file, CI), :func:`bar` yields a function that does
nothing and prints nothing.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO, Literal, TextIO, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

Advance = Callable[[float], None]
Unit = Literal["bytes", "items"]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _columns(unit: Unit) -> list[ProgressColumn]:
    counted: list[ProgressColumn] = (
        [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    )
    return [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *counted,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]


def _ignore(amount: float = 1) -> None:
    return None


@contextlib.contextmanager
def bar(
    description: str,
    total: float | None,
    *,
    unit: Unit = "items",
    stream: TextIO | None = None,
) -> Iterator[Advance]:
    """A progress bar on ``stream`` (default standard error) if it is a terminal.

    Yields ``advance(amount)``; ``total`` None gives an indeterminate bar. The bar is left on
    screen, complete, when the block ends normally.
    """
    out = sys.stderr if stream is None else stream
    if not is_terminal(out):
        yield _ignore
        return
    console = Console(file=out, force_terminal=True)
    with Progress(*_columns(unit), console=console, transient=False) as shown:
        task = shown.add_task(description, total=total)

        def advance(amount: float = 1) -> None:
            shown.advance(task, amount)

        yield advance


class TrackedReader:
    """A binary file that reports each new byte read to ``advance`` (re-reads after a seek back
    are not counted twice). Supports what stream parsers use: read, readline, iteration, seek,
    tell, close and ``with``."""

    def __init__(self, raw: BinaryIO, advance: Advance) -> None:
        self._raw = raw
        self._advance = advance
        self._furthest = raw.tell()

    def _moved(self) -> None:
        position = self._raw.tell()
        if position > self._furthest:
            self._advance(position - self._furthest)
            self._furthest = position

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._moved()
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._raw.readline(size)
        self._moved()
        return line

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> TrackedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tracked(raw: BinaryIO, advance: Advance) -> BinaryIO:
    """``raw`` wrapped in a :class:`TrackedReader`, typed as the file it stands for."""
    return cast(BinaryIO, TrackedReader(raw, advance))
