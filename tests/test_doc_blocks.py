"""The code blocks of README.md and queries/README.md run as written.

Against a small real lake (simulator -> msgpack stream -> importer, as ``tasqlake simulate --out``
and ``tasqlake import`` store it) at ``./lake`` of a scratch directory, which holds a ``.venv``
link to this checkout's environment so that ``.venv/bin/tasqlake`` works as in the README:

* ``python``: executed (top-level ``await`` allowed: the block runs in asyncio, as in a notebook);
* ``sql``: each statement executed in ``tasqlake.queries.connect("lake")``;
* ``bash``: each line run by bash (``set -e``) with no TASQLAKE_/ASYNCTASQ_ variable set;
* ``toml``: a settings file, validated by ``tasqlake config --config``;
* ``text``, ``ini``, ``dockerfile``, ``yaml``: other programs' files (layouts, systemd, container,
  alert rules), not run;
* a runnable block preceded by ``<!-- not run: reason -->`` is skipped (long-running services,
  the whole test suite), and the reason must be given;
* any other language, or none, fails: no block is left out silently.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tasqlake import notebook_support, queries
from tasqlake.ingest.importer import import_files
from tasqlake.lake.storage import Lake
from tasqlake.simulator.publish import write_stream

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "queries/README.md")
RUN = {"python", "sql", "bash", "toml"}
NOT_RUN = {"text", "ini", "dockerfile", "yaml"}
#: Before the README's instant (2026-11-29 12:00 UTC), so its "as of" examples see the events.
SPEC = notebook_support.DEMO_SPEC.replace(
    start=datetime(2026, 11, 29, 11, 58, tzinfo=UTC), duration=60.0
)
_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)^```\s*$", re.M | re.S)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*\n$")


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    lang: str
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}:{self.lang or 'none'}"


def blocks() -> list[Block]:
    found = []
    for document in DOCUMENTS:
        text = (ROOT / document).read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            before = text[: match.start()]
            marker = _NOT_RUN.search(before[-300:])
            found.append(
                Block(
                    document,
                    before.count("\n") + 1,
                    match["lang"],
                    match["code"],
                    marker["reason"] if marker else None,
                )
            )
    return found


BLOCKS = blocks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the README's ``./lake`` (a small simulated deployment) and ``.venv``."""
    root = tmp_path_factory.mktemp("doc-blocks")
    stream = root / "events.msgpack"
    write_stream(SPEC, stream)
    import_files([stream], Lake(root / "lake"))
    (root / ".venv").symlink_to(Path(sys.prefix))
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASQLAKE_", "ASYNCTASQ_"))}
    return env


def test_every_block_has_a_known_language_and_marks_give_a_reason() -> None:
    assert len(BLOCKS) >= 10
    for block in BLOCKS:
        assert block.lang in RUN | NOT_RUN, f"{block.id}: give the block a language"
        assert block.not_run is None or block.not_run, f"{block.id}: say why it is not run"
        assert block.not_run is None or block.lang in RUN, f"{block.id}: marker on a text block"
    assert {b.lang for b in BLOCKS} >= {"python", "sql", "bash", "toml"}


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang in RUN], ids=lambda b: b.id)
def test_block_runs(block: Block, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.not_run:
        pytest.skip(f"marked not run: {block.not_run}")
    monkeypatch.chdir(workdir)
    {"python": _python, "sql": _sql, "bash": _bash, "toml": _toml}[block.lang](block, workdir)


def _python(block: Block, workdir: Path) -> None:
    code = compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "__doc_block__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    assert len(namespace) > 2, f"{block.id}: the block defined nothing"
    for value in namespace.values():
        if isinstance(value, queries.LakeQueries):
            value.close()


def _sql(block: Block, workdir: Path) -> None:
    with queries.connect(workdir / "lake") as con:
        statements = con.extract_statements(block.code)
        assert statements, f"{block.id}: no statement"
        for statement in statements:
            con.execute(statement)
            if statement.type == duckdb.StatementType.SELECT:
                assert con.fetchall(), f"{block.id}: {statement.query!r} gave no row"


def _bash(block: Block, workdir: Path) -> None:
    for number, line in enumerate(block.code.splitlines(), start=block.line + 1):
        command = line.split(" #", 1)[0].strip()
        if not command or command.startswith("#"):
            continue
        done = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=workdir,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        where = f"{block.document}:{number}"
        assert done.returncode == 0, f"{where}: {command}\n{done.stderr}"
        assert done.stdout.strip(), f"{where}: {command} printed nothing"


def _toml(block: Block, workdir: Path) -> None:
    path = workdir / f"block-{block.line}.toml"
    path.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [str(workdir / ".venv/bin/tasqlake"), "config", "--config", str(path)],
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{block.id}: {done.stderr}"
    for key in re.findall(r"^(\w+)\s*=", block.code, re.M):
        assert key in done.stdout, f"{block.id}: setting {key} not shown by tasqlake config"
