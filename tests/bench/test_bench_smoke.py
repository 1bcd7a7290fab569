"""Smoke tests of the benchmark's code paths on tiny sizes (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import query_figures, s3_figures
from bench import run as bench_run
from bench.datagen import fill_lake
from bench.figures import Figure, median_seconds, render
from bench.ingest_figures import drain_figures, freshness_figure, live_figures
from bench.run import parse_size, prepare_lake
from tasqlake.lake.storage import Lake
from tasqlake.local_redis import find_redis_server
from tests.redis_needed import no_redis


def test_figure_ratio_target_and_table() -> None:
    higher = Figure(
        "drain",
        260_000,
        "ev/s",
        190_000,
        "listen",
        limit=1.3,
        compare_ratio=True,
        higher_is_better=True,
    )
    assert higher.ratio == pytest.approx(260 / 190) and higher.ok is True
    lower = Figure("q", 3.0, "s", 1.0, "bare", limit=1.5, compare_ratio=True)
    assert lower.ok is False and lower.target == "ratio <= 1.5"
    plain = Figure("bytes", 21.5, "B", limit=22)
    assert plain.ok is True and plain.ratio is None
    table = render([higher, lower, plain])
    assert "1.37x" in table and "NO" in table and table.count("\n") == 4
    calls: list[int] = []
    assert median_seconds(lambda: calls.append(1), repeat=3, warmup=1) >= 0
    assert len(calls) == 4


def test_parse_size() -> None:
    assert parse_size("200k") == 200_000 and parse_size("1.5M") == 1_500_000


def test_datagen_and_query_figures_on_a_tiny_lake(tmp_path: Path) -> None:
    generated = fill_lake(Lake(tmp_path / "lake-20k").ensure(), 20_000, rate=4.0)
    assert generated.events == 20_000 and generated.files >= 2
    lake, info = prepare_lake(tmp_path, 20_000)
    assert info["events"] == 20_000  # compaction kept every (distinct) event
    assert 10 < info["bytes_per_event"] < 200
    figures = query_figures.view_figures(lake, "20k", repeat=1)
    assert {f.name.split(" @")[0] for f in figures} == {
        "queue_stats",
        "worker_stats",
        "retry_rates",
        "queue_depth",
    }
    assert all(f.value > 0 and f.baseline and f.baseline > 0 for f in figures)
    cost = query_figures.now_cost(lake, repeat=1)
    assert set(cost.views) == set(query_figures.NOW_VIEWS)
    assert all(seconds > 0 for seconds in cost.views.values())
    assert cost.recent_depth_seconds > 0 and cost.derived_seconds > 0
    figures = query_figures.now_figures(("20k", cost), ("20k", cost))
    assert [f.name for f in figures] == [
        '"now" queue_stats @20k',
        '"now" global_stats @20k',
        '"now" worker_stats @20k',
        '"now" retry_rates @20k',
        "queue_depth_series last day @20k",
        "queue_depth_series last 6 h @20k",
        "--export-derived gauges, one refresh @20k",
    ]
    assert all(f.ratio == pytest.approx(1.0) for f in figures)
    assert all(f.target == "ratio <= 1.2" for f in figures[:-1])
    assert figures[-1].target == "s <= 1"
    derived = bench_run.derived_storage_figure("20k", info)
    assert derived.value > 0 and "chain carry" in derived.note and derived.target == "B <= 10"


def test_ingest_figures_on_tiny_sizes() -> None:
    if find_redis_server() is None:
        no_redis("needs redis-server")
    drain, rss = drain_figures(2_000)
    assert "stored 2,000/2,000" in drain.note and drain.baseline and rss.value > 0
    lost, dropped, omem = live_figures(20_000, 0.5)
    assert lost.value == 0 and dropped.value == 0 and omem.value >= 0
    fresh = freshness_figure(1.0, rate=200)
    assert "0 never seen" in fresh.note and 0 < fresh.value < 10


def test_s3_figures_on_tiny_sizes(tmp_path: Path) -> None:
    """The S3 figures' code paths: a drain into an S3 lake next to a local one, and "now" on a
    lake uploaded to S3 next to the same lake on disk (no timing is asserted)."""
    if find_redis_server() is None:
        no_redis("needs redis-server")
    drain = s3_figures.drain_figure(2_000)
    assert drain.value > 0 and drain.baseline and drain.baseline > 0
    fill_lake(Lake(tmp_path / "lake-20k").ensure(), 20_000, rate=4.0)
    lake, _ = prepare_lake(tmp_path, 20_000)
    now = s3_figures.now_figure(lake, "20k", repeat=1)
    assert now.value > 0 and now.baseline and now.baseline > 0 and "uploaded" in (now.note or "")
