"""Load the SQL catalogue (aiosql-like): one view or macro per file, documented by its header.

The files live in namespaces, one per folder:

* ``queries/views/`` — the contract: the views and table macros users query (``contract``);
* ``queries/helpers/`` — what the contract is built from: helper macros and the storage-level
  views (``stored_events``, ``task_partials``, …), queryable but free to change;
* ``schemas/sql/`` — the task-state algebra, shared with compaction
  (:mod:`tasqlake.schemas.task_algebra`).

Each file opens with a comment block::

    -- queue_stats: what the view means, on one line (more lines may follow).
    -- Grain: one row per queue.
    -- Columns:
    --   depth       tasks pending

followed by exactly one ``CREATE OR REPLACE VIEW|MACRO <name>`` statement whose name is the
file's stem. The loader parses the headers (they become the catalogue), orders the files so that
each is created after the objects it mentions, and creates them in a DuckDB connection; a
failure raises :class:`~tasqlake.schemas.errors.QueryError` naming ``file:line`` (the path from
the namespace's folder, e.g. ``queries/views/queue_stats.sql:20``) and DuckDB's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from tasqlake.schemas.errors import QueryError, error_reason
from tasqlake.schemas.task_algebra import SQL_DIR as CONTRACT_SQL_DIR

SQL_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Namespace:
    """A folder of ``.sql`` files: its name, whether it is the public contract, and the prefix
    its files are named by in messages and the catalogue (``queries/views``)."""

    name: str
    directory: Path
    contract: bool
    prefix: str

    @classmethod
    def of(cls, directory: Path) -> Namespace:
        """Any folder: named by itself, the contract if it is called ``views``."""
        return cls(directory.name, directory, directory.name == "views", directory.name)


#: The catalogue's namespaces, in the order they are listed.
VIEWS = Namespace("views", SQL_DIR / "views", True, "queries/views")
HELPERS = Namespace("helpers", SQL_DIR / "helpers", False, "queries/helpers")
ALGEBRA = Namespace("algebra", CONTRACT_SQL_DIR, False, "schemas/sql")
NAMESPACES = (VIEWS, HELPERS, ALGEBRA)

_CREATE = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+(?P<kind>VIEW|MACRO)\s+(?P<name>\w+)", re.I | re.M
)
_COLUMN = re.compile(r"^ {2,3}(?P<name>\w+)\s+(?P<doc>\S.*)$")
_CONTINUATION = re.compile(r"^\s{4,}\S")
_DUCKDB_LINE = re.compile(r"LINE (\d+):")
_STRING_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|--[^\n]*")
#: A call whose arguments start with quoted names: a table macro over relations
#: (``merge_task_partials('task_partials', terminal_details := false)``,
#: ``worker_sessions_after('chain_sessions', 'chain_tail')``); getvariable names a variable.
_RELATION_ARGUMENTS = re.compile(
    r"\b(?!getvariable\b)\w+\(\s*('\w+'(?:\s*,\s*'\w+')*)\s*[,)]", re.I
)
_QUOTED_NAME = re.compile(r"'(\w+)'")
_WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b", re.I)


@dataclass(frozen=True, slots=True)
class SqlObject:
    """One ``.sql`` file: a view or a macro, with the documentation of its header."""

    name: str
    kind: str  # "view" | "macro"
    description: str
    grain: str
    column_docs: dict[str, str]
    sql: str
    path: Path
    statement_line: int  # 1-based line of the CREATE statement in the file
    depends_on: tuple[str, ...] = field(default=())
    namespace: str = ""  # the folder's Namespace.name ("views", "helpers", "algebra")
    contract: bool = False  # in the public contract (queries/views/)
    prefix: str = ""  # the folder as messages name it ("queries/views")

    @property
    def file(self) -> str:
        """The file as messages name it: its namespace's folder and its name."""
        return f"{self.prefix}/{self.path.name}" if self.prefix else self.path.name

    @property
    def location(self) -> str:
        return f"{self.file}:{self.statement_line}"


def _parse_header(path: Path, label: str, lines: list[str]) -> tuple[str, str, dict[str, str], int]:
    comments: list[str] = []
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        if not line.startswith("--"):
            break
        comments.append(line[2:].removeprefix(" ") if line.startswith("-- ") else line[2:])
    else:
        index = len(lines)
    if not comments or ":" not in comments[0]:
        raise QueryError(f"{label}:1: the file must open with '-- <name>: <meaning>'")
    head_name, _, first = comments[0].partition(":")
    if head_name.strip() != path.stem:
        raise QueryError(f"{label}:1: header names {head_name.strip()!r}, expected {path.stem!r}")
    description: list[str] = [first.strip()]
    grain = ""
    docs: dict[str, str] = {}
    section = "description"
    last_column = ""
    for number, text in enumerate(comments[1:], start=2):
        lowered = text.strip().lower()
        if lowered.startswith("grain:"):
            grain, section = text.strip()[len("grain:") :].strip(), "grain"
        elif lowered.startswith("columns:"):
            section = "columns"
        elif section == "columns":
            match = _COLUMN.match(text)
            if match:
                last_column = match["name"]
                docs[last_column] = match["doc"].strip()
            elif last_column and _CONTINUATION.match(text):
                docs[last_column] += " " + text.strip()
            else:
                raise QueryError(
                    f"{label}:{number}: expected '--   <column>  <meaning>' under Columns:"
                )
        elif section == "grain":
            grain += " " + text.strip()
        else:
            description.append(text.strip())
    if not grain:
        raise QueryError(f"{label}: the header must state the grain ('-- Grain: …')")
    return " ".join(d for d in description if d), grain, docs, index + 1


def parse_file(path: Path, namespace: Namespace | None = None) -> SqlObject:
    """Parse one ``.sql`` file (its header and its single CREATE statement) of ``namespace``
    (default: a namespace of the file's folder, see :meth:`Namespace.of`)."""
    namespace = namespace or Namespace.of(path.parent)
    label = f"{namespace.prefix}/{path.name}"
    text = path.read_text()
    lines = text.splitlines()
    description, grain, docs, first_body_line = _parse_header(path, label, lines)
    body = "\n".join(lines[first_body_line - 1 :])
    creates = list(_CREATE.finditer(body))
    if len(creates) != 1:
        raise QueryError(
            f"{label}: expected exactly one 'CREATE OR REPLACE VIEW|MACRO', found {len(creates)}"
        )
    create = creates[0]
    if create["name"] != path.stem:
        raise QueryError(f"{label}: creates {create['name']!r}, expected {path.stem!r}")
    statement_line = first_body_line + body[: create.start("kind")].count("\n")
    return SqlObject(
        name=path.stem,
        kind=create["kind"].lower(),
        description=description,
        grain=grain,
        column_docs=docs,
        sql="CREATE OR REPLACE " + body[create.start("kind") :],
        path=path,
        statement_line=statement_line,
        namespace=namespace.name,
        contract=namespace.contract,
        prefix=namespace.prefix,
    )


def _mentions(sql: str) -> set[str]:
    """Names the statement uses: its words outside strings and comments, and the relations a
    table macro is called on by name (``task_partials_of('unsnapshotted_log')``)."""
    words = _WORD.findall(_STRING_OR_COMMENT.sub(" ", sql))
    relations = [
        name
        for arguments in _RELATION_ARGUMENTS.findall(sql)
        for name in _QUOTED_NAME.findall(arguments)
    ]
    return {w.lower() for w in [*words, *relations]}


def order_by_dependencies(objects: list[SqlObject]) -> list[SqlObject]:
    """Objects with ``depends_on`` filled in, each after everything it mentions."""
    by_name = {o.name: o for o in objects}
    linked = {
        o.name: SqlObject(
            **{
                **{f: getattr(o, f) for f in o.__dataclass_fields__},
                "depends_on": tuple(sorted((_mentions(o.sql) & by_name.keys()) - {o.name})),
            }
        )
        for o in objects
    }
    ordered: list[SqlObject] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join((*trail, name))
            raise QueryError(f"{by_name[name].file}: circular dependency {cycle}")
        state[name] = "visiting"
        for dep in linked[name].depends_on:
            visit(dep, (*trail, name))
        state[name] = "done"
        ordered.append(linked[name])

    for name in sorted(linked):
        visit(name, ())
    return ordered


@cache
def load(*sources: Path | Namespace) -> tuple[SqlObject, ...]:
    """Every ``.sql`` file of ``sources`` (folders or namespaces; default :data:`NAMESPACES`:
    ``queries/views/``, ``queries/helpers/`` and the task-state algebra ``schemas/sql/``), parsed
    and in creation order. A name defined twice, in one namespace or across two, is refused."""
    namespaces = [s if isinstance(s, Namespace) else Namespace.of(s) for s in sources]
    objects: list[SqlObject] = []
    for namespace in namespaces or NAMESPACES:
        found = sorted(namespace.directory.glob("*.sql"))
        if not found:
            raise QueryError(f"no .sql files in {namespace.directory}: the package is incomplete")
        objects.extend(parse_file(f, namespace) for f in found)
    seen: dict[str, SqlObject] = {}
    for obj in objects:
        if obj.name in seen:
            raise QueryError(f"{obj.file}: {obj.name} is already defined by {seen[obj.name].file}")
        seen[obj.name] = obj
    return tuple(order_by_dependencies(objects))


def create_all(con: duckdb.DuckDBPyConnection, objects: tuple[SqlObject, ...]) -> None:
    """Create every object in ``con``; a failure names the file and line DuckDB points at."""
    for obj in objects:
        try:
            con.execute(obj.sql)
        except duckdb.Error as error:
            message = str(error)
            line = obj.statement_line
            match = _DUCKDB_LINE.search(message)
            if match:
                line += int(match.group(1)) - 1
            first = error_reason(error)
            raise QueryError(
                f"{obj.file}:{line}: cannot create {obj.kind} {obj.name}: {first}"
            ) from None
