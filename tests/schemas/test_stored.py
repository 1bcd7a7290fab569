from __future__ import annotations

import pyarrow as pa
import pytest

from tasqlake.schemas.errors import StorageError
from tasqlake.schemas.stored import EVENT_SCHEMA, SCHEMA_VERSION_KEY, schema_version_of, upcast


def test_schema_carries_its_version_and_column_docs() -> None:
    assert schema_version_of(EVENT_SCHEMA) == 1
    assert all(field.metadata and b"doc" in field.metadata for field in EVENT_SCHEMA)
    assert EVENT_SCHEMA.field("timestamp").type == pa.timestamp("us", tz="UTC")


def test_upcast_fills_missing_columns_and_orders_them() -> None:
    old = pa.table({"event_type": ["task_started"], "event_id": [1]})
    table = upcast(old)
    assert table.schema.names == EVENT_SCHEMA.names
    assert table.column("task_id").to_pylist() == [None]


def test_newer_schema_versions_are_refused_with_a_hint() -> None:
    newer = pa.table({"x": [1]}).replace_schema_metadata({SCHEMA_VERSION_KEY: b"99"})
    with pytest.raises(StorageError, match="upgrade tasqlake"):
        upcast(newer)
