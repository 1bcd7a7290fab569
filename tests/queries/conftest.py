"""Fixtures for the queries tests: real Parquet files through the real write path, real DuckDB
(helpers in tests/queries/helpers.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tasqlake.lake.storage import Lake
from tests.queries.helpers import write_events


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake").ensure()


@pytest.fixture
def write(lake: Lake) -> Iterator[Any]:
    """``write(payloads)`` stores into the test's lake."""

    def _write(payloads: Iterable[dict[str, Any]], **kwargs: Any) -> int:
        return write_events(lake, payloads, **kwargs)

    yield _write
