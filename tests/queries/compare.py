"""Comparing a view's rows (DuckDB) with the oracle's rows (plain Python)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

Row = dict[str, Any]


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[Row]:
    result = con.execute(sql)
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return bool(a == b)


def assert_rows_equal(
    view: str, actual: list[Row], expected: list[Row], key: Sequence[str]
) -> None:
    """Same keys, and for each key the oracle's columns equal (floats within 1e-9)."""

    def keyed(rows: list[Row]) -> dict[tuple[Any, ...], Row]:
        out = {}
        for row in rows:
            k = tuple(row[c] for c in key)
            assert k not in out, f"{view}: duplicate row for {dict(zip(key, k, strict=True))}"
            out[k] = row
        return out

    got, want = keyed(actual), keyed(expected)
    missing = sorted(set(want) - set(got), key=repr)
    extra = sorted(set(got) - set(want), key=repr)
    assert not missing and not extra, f"{view}: rows missing {missing[:5]} / unexpected {extra[:5]}"
    for k, expected_row in want.items():
        actual_row = got[k]
        diffs = {
            column: (actual_row.get(column), value)
            for column, value in expected_row.items()
            if not _same(actual_row.get(column), value)
        }
        assert not diffs, f"{view} {dict(zip(key, k, strict=True))}: (view, oracle) {diffs}"
