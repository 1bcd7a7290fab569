"""``tasqlake import`` progress: the importer reports bytes consumed; the CLI draws a bar on a
terminal only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec

from tasqlake.ingest.importer import import_files
from tasqlake.lake.storage import Lake
from tasqlake.schemas.streams import write_msgpack_stream
from tests import terminal
from tests.ingest.helpers import TASQLAKE, simulated_payloads


def files(tmp_path: Path) -> list[Path]:
    payloads = simulated_payloads(seed=111, duration=6)
    stream = tmp_path / "events.msgpack"
    with open(stream, "wb") as out:
        write_msgpack_stream(out, payloads)
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(
        b"\n".join(msgspec.json.encode(msgspec.msgpack.decode(p)) for p in payloads[:500])
        + b"\n\n{broken\n"
    )
    return [stream, lines]


def test_track_is_told_every_byte_of_every_file_once(tmp_path: Path) -> None:
    inputs = files(tmp_path)
    told: list[int] = []
    summary = import_files(inputs, Lake(tmp_path / "lake"), chunk_events=700, track=told.append)
    assert summary.files == 2 and summary.quarantined == 1
    assert sum(told) == sum(p.stat().st_size for p in inputs)
    assert len(told) > 2 and all(n > 0 for n in told)  # several updates, never backwards


def run_on_a_terminal(args: list[str]) -> tuple[bytes, str]:
    """Run ``tasqlake`` with stderr on a pseudo-terminal; returns (terminal output, stdout)."""
    code, shown, stdout = terminal.run_on_a_terminal([TASQLAKE, *args])
    assert code == 0, shown.decode(errors="replace")
    return shown, stdout


def test_the_cli_draws_a_bar_on_a_terminal_and_nothing_when_piped(tmp_path: Path) -> None:
    inputs = files(tmp_path)
    lake = str(tmp_path / "lake")
    shown, stdout = run_on_a_terminal(["import", *map(str, inputs), "--lake", lake])
    assert b"importing" in shown and b"100%" in shown
    assert "events stored" in stdout  # the result stays on stdout, apart from the bar
    piped = subprocess.run(
        [TASQLAKE, "import", *map(str, inputs), "--lake", lake],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == ""
    shown, stdout = run_on_a_terminal(["import", "--from-quarantine", "--lake", lake])
    assert b"re-importing quarantine" in shown and b"1/1" in shown
    assert "1 still quarantined (1 not json)" in stdout
