"""The task-state algebra (schemas/sql/): each rule written once, named, and created in order."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from tasqlake.queries.loader import load
from tasqlake.schemas.task_algebra import MACRO_FILES, SQL_DIR, macros

#: The numbers of the key encoding, each allowed in the one file that names it.
ENCODING = {
    "4611686018427387904": {"terminal_key_base.sql"},  # 2^62
    "2305843009213693952": set(),  # 2^61: is_terminal says terminal_key_base() // 2
    "% 4": {"progress_phase.sql", "causal_state.sql"},  # causal_state: terminal_key's rank
    "// 4": {"progress_attempt.sql", "causal_finished_at.sql"},  # terminal_key inverted
    "* 4": {"progress_key.sql", "terminal_key.sql"},
}


def _body(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def test_each_number_of_the_key_encoding_is_written_in_one_named_rule() -> None:
    for obj in load():
        body = _body(obj.sql)
        for text, allowed in ENCODING.items():
            if text in body:
                assert obj.path.name in allowed, f"{obj.location}: {text!r} outside its rule"


def test_macro_files_are_the_algebra_in_creation_order() -> None:
    assert sorted(MACRO_FILES) == sorted(p.name for p in SQL_DIR.glob("*.sql"))
    by_file = {o.path.name: o for o in load() if o.path.parent == SQL_DIR}
    algebra = {n.removesuffix(".sql") for n in MACRO_FILES}
    for position, name in enumerate(MACRO_FILES):
        earlier = {n.removesuffix(".sql") for n in MACRO_FILES[:position]}
        assert set(by_file[name].depends_on) & algebra <= earlier, name


def test_the_keys_decode_to_what_they_encode() -> None:
    """Compaction's connection (macros() alone) decodes every event type's key."""
    at = datetime(2026, 11, 29, 12, 0, 0, 1, tzinfo=UTC)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for ddl in macros():
            con.execute(ddl)
        rows = con.execute(
            """
            SELECT event_type, is_terminal(k), causal_state(k), causal_finished_at(k),
                   is_start_key(k) AND NOT is_terminal(k), is_retry_key(k) AND NOT is_terminal(k),
                   progress_attempt(progress_key(event_type, 3))
            FROM (SELECT unnest($types) AS event_type)
            CROSS JOIN LATERAL (SELECT causal_key(event_type, 3, $at) AS k)
            ORDER BY k
            """,
            {
                "types": [
                    "task_enqueued",
                    "task_started",
                    "task_reenqueued",
                    "task_cancelled",
                    "task_failed",
                    "task_completed",
                ],
                "at": at,
            },
        ).fetchall()
    assert rows == [
        ("task_enqueued", False, "pending", None, False, False, 0),
        ("task_started", False, "running", None, True, False, 3),
        ("task_reenqueued", False, "pending", None, False, True, 3),
        ("task_cancelled", True, "cancelled", at, False, False, 0),
        ("task_failed", True, "failed", at, False, False, 3),
        ("task_completed", True, "completed", at, False, False, 0),
    ]
