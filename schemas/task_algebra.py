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
  snapshot stores — ``combine_task_partials`` (the merge rule, keys kept: the snapshot chain's
  carry) and ``merge_task_partials``, which reads the one-pass result out of it (``task_state``);
* the snapshot chain's rules: ``is_settled`` (which tasks are folded), ``task_counters_of``
  (what is folded), ``depth_deltas_of`` (the per-minute transitions it stores and
  ``queue_depth_series`` sums), ``worker_sessions_after`` (worker sessions continued by later
  events) and ``chain_validity`` (which links may be trusted).

Compaction (``tasqlake.lake``) computes the partials and the chain it stores with these macros
and the catalogue (``tasqlake.queries``) merges them with the same ones, so neither depends on
the other through SQL.
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
    "combine_task_partials.sql",
    "merge_task_partials.sql",
    "is_settled.sql",
    "task_counters_of.sql",
    "depth_deltas_of.sql",
    "worker_sessions_after.sql",
    "chain_validity.sql",
)


def macros() -> tuple[str, ...]:
    """The DDL a DuckDB connection needs to compute task partials, in creation order."""
    return tuple((SQL_DIR / name).read_text(encoding="utf-8") for name in MACRO_FILES)
