"""The Python API: MonitoringService-like reads (same field names), frames, errors."""

from __future__ import annotations

import asyncio
import dataclasses

import polars as pl
import pytest

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import QueryError
from tests.queries.helpers import write_events
from tests.queries.history import task_event, worker_event
from tests.queries.test_semantics import W1, at


@pytest.fixture
def filled(lake: Lake) -> Lake:
    write_events(
        lake,
        [
            worker_event("worker_online", W1, at(0), freq=1.0, queues=["emails"]),
            worker_event("worker_heartbeat", W1, at(1), freq=1.0, queues=["emails"]),
            task_event("task_enqueued", "t1", at(0), queue="emails"),
            task_event("task_started", "t1", at(0.5), queue="emails", worker_id=W1),
            task_event("task_enqueued", "t2", at(0.2), queue="emails"),
            task_event(
                "task_completed", "t2", at(0.9), queue="emails", worker_id=W1, duration_ms=40
            ),
        ],
    )
    return lake


def test_field_names_mirror_asynctasq_models() -> None:
    models = pytest.importorskip("asynctasq.core.models")
    for ours, theirs in (
        (queries.QueueStats, models.QueueStats),
        (queries.WorkerInfo, models.WorkerInfo),
    ):
        assert [f.name for f in dataclasses.fields(ours)] == [
            f.name for f in dataclasses.fields(theirs)
        ]


def test_monitoring_methods_answer_from_the_log(filled: Lake) -> None:
    with queries.LakeQueries(filled, as_of=at(1.5)) as lq:
        stats = asyncio.run(lq.get_queue_stats("emails"))
        assert (stats.name, stats.depth, stats.processing, stats.completed_total) == (
            "emails",
            0,
            1,
            1,
        )
        assert stats.avg_duration_ms == 40.0
        assert asyncio.run(lq.get_queue_stats("nothing-here")) == queries.QueueStats(
            name="nothing-here", depth=0, processing=0
        )
        assert [s.name for s in asyncio.run(lq.get_all_queue_stats())] == ["emails"]
        assert asyncio.run(lq.get_global_stats()) == {
            "pending": 0,
            "running": 1,
            "completed": 1,
            "failed": 0,
            "total": 2,
        }
        (worker,) = asyncio.run(lq.get_worker_stats())
        assert (worker.worker_id, worker.status, worker.current_task_id) == (W1, "active", "t1")
        # a per-call as_of overrides the default
        earlier = asyncio.run(lq.get_global_stats(as_of=at(0.3)))
        assert earlier["pending"] == 2 and earlier["running"] == 0


def test_any_view_as_a_polars_frame(filled: Lake) -> None:
    with queries.LakeQueries(filled, as_of="2026-11-29T12:00:01.5Z") as lq:
        frame = lq.frame("tasks")
        assert isinstance(frame, pl.DataFrame)
        assert sorted(frame["state"].to_list()) == ["completed", "running"]
    with queries.connect(filled, as_of=at(1.5)) as con:
        assert queries.frame(con, "SELECT count(*) AS n FROM events")["n"].to_list() == [6]


def test_errors_name_the_view_or_query_and_what_to_do(filled: Lake) -> None:
    with queries.LakeQueries(filled) as lq:
        with pytest.raises(QueryError, match="no view named 'nope'"):
            lq.frame("nope")
        with pytest.raises(QueryError, match=r"query failed: .*no_such_column"):
            lq.rows("SELECT no_such_column FROM tasks")
    with pytest.raises(QueryError, match="not an ISO-8601 instant"):
        queries.connect(filled, as_of="yesterday-ish")
