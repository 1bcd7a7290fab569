"""The task-state algebra as SQL: the contract every reader and writer of task state shares.

One macro per file under ``schemas/sql/`` (documented by its header, like the views):

* ``causal_key`` — the order in which a task's events decide its state;
* ``task_partials_of`` — the per-task partial aggregates of any relation of events, which a task
  snapshot stores and ``task_state`` merges.

Compaction (``tasqlake.lake``) computes the partials it stores with these macros and the
catalogue (``tasqlake.queries``) merges them with the same ones, so neither depends on the other
through SQL.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
#: The files of the algebra in creation order (each after what it mentions).
MACRO_FILES = ("causal_key.sql", "task_partials_of.sql")


def macros() -> tuple[str, ...]:
    """The DDL a DuckDB connection needs to compute task partials, in creation order."""
    return tuple((SQL_DIR / name).read_text(encoding="utf-8") for name in MACRO_FILES)
