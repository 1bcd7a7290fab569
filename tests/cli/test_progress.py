"""``tasqlake.progress``: a rich bar on a terminal, silence when piped, bytes counted once."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from tasqlake import progress
from tasqlake.schemas.streams import iter_json_lines, iter_msgpack_stream, write_msgpack_stream
from tests.terminal import run_on_a_terminal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_output_stays_empty_and_advance_is_harmless() -> None:
    piped = io.StringIO()
    with progress.bar("importing x", total=10, stream=piped) as advance:
        for _ in range(10):
            advance(1)
    assert piped.getvalue() == ""


def test_a_terminal_gets_a_bar_that_ends_complete() -> None:
    screen = Terminal()
    with progress.bar("importing big.msgpack", total=2048, unit="bytes", stream=screen) as advance:
        advance(1024)
        advance(1024)
    shown = screen.getvalue()
    assert "importing big.msgpack" in shown
    assert "100%" in shown
    assert "2.0 kB" in shown or "2.0/2.0 kB" in shown


def test_items_are_counted_as_m_of_n() -> None:
    screen = Terminal()
    with progress.bar("compacting", total=3, stream=screen) as advance:
        for _ in range(3):
            advance(1)
    assert "3/3" in screen.getvalue()


def test_tracked_reader_counts_each_byte_once_through_a_stream_parser(tmp_path: Path) -> None:
    path = tmp_path / "events.msgpack"
    payloads = [b"\x81\xa1a" + bytes([i]) for i in range(100)]
    with open(path, "wb") as out:
        write_msgpack_stream(out, payloads)
    seen: list[float] = []
    with progress.tracked(open(path, "rb"), seen.append) as source:
        source.read(64)  # sniffing the format, as the importer does
        source.seek(0)
        assert list(iter_msgpack_stream(source, path.name)) == payloads
    assert sum(seen) == path.stat().st_size


def test_tracked_reader_follows_line_iteration(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n\n{"a": 3}\n')
    seen: list[float] = []
    with progress.tracked(open(path, "rb"), seen.append) as source:
        lines = list(iter_json_lines(source))
    assert len(lines) == 3
    assert sum(seen) == path.stat().st_size


def test_a_real_pseudo_terminal_gets_the_bar_and_a_pipe_does_not() -> None:
    script = (
        "from tasqlake import progress\n"
        "with progress.bar('working', total=4) as advance:\n"
        "    [advance(1) for _ in range(4)]\n"
    )
    piped = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert piped.stderr == ""
    code, shown, _ = run_on_a_terminal([sys.executable, "-c", script], timeout=60)
    assert code == 0
    assert b"working" in shown
    assert b"4/4" in shown
