"""The task-state algebra as SQL: the contract every reader and writer of task state shares.

One macro per file under ``schemas/sql/`` (documented by its header, like the views), each rule
written once and named:

* the keys: ``progress_key`` (attempt*4 + phase, read back by ``progress_attempt``,
  ``progress_phase``, ``is_start_key``, ``is_retry_key``), ``terminal_key`` (above
  ``terminal_key_base() // 2``, told by ``is_terminal``) and ``causal_key``, the order in which a
  task's events decide its state;
* what a task's greatest keys mean: ``causal_state``, ``causal_finished_at``,
  ``task_attempts_begun``, ``task_retries``;
* ``task_partials_of`` — the per-task partial aggregates of any relation of events, which a task
  snapshot stores — and ``merge_task_partials``, which merges partial rows into the one-pass
  result (``task_state``, ``queue_stats``).

Compaction (``tasqlake.lake``) computes the partials it stores with these macros and the
catalogue (``tasqlake.queries``) merges them with the same ones, so neither depends on the other
through SQL.
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
#: The files of the algebra in creation order (each after what it mentions).
MACRO_FILES = (
    "terminal_key_base.sql",
    "is_terminal.sql",
    "terminal_key.sql",
    "progress_key.sql",
    "progress_phase.sql",
    "progress_attempt.sql",
    "is_start_key.sql",
    "is_retry_key.sql",
    "causal_key.sql",
    "causal_state.sql",
    "causal_finished_at.sql",
    "task_attempts_begun.sql",
    "task_retries.sql",
    "task_partials_of.sql",
    "merge_task_partials.sql",
)


def macros() -> tuple[str, ...]:
    """The DDL a DuckDB connection needs to compute task partials, in creation order."""
    return tuple((SQL_DIR / name).read_text(encoding="utf-8") for name in MACRO_FILES)
