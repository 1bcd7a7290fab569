"""Fixtures for ingest tests: real Redis, real subprocesses, real Parquet, plain DuckDB SQL
(helpers in tests/ingest/helpers.py).

Redis at 127.0.0.1:6379 is shared with other engineers: every test uses its own channel and
never flushes anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.ingest.helpers import REDIS_URL, Ingester


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def channel() -> str:
    return f"tasqlake-test:{uuid.uuid4().hex}"


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def ingesters() -> Iterator[list[Ingester]]:
    """Ingesters started by a test; any still running at the end are killed."""
    started: list[Ingester] = []
    yield started
    for ingester in started:
        ingester.close()
