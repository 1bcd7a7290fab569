"""tasqlake's benchmark suite (issue 6): every figure next to its same-run baseline.

    .venv/bin/python -m bench.run              # full: 1M drain, 200k/s x 60 s, 10M / 50M lakes
    .venv/bin/python -m bench.run --quick      # small sizes, a couple of minutes
    .venv/bin/python -m bench.run --only queries --sizes 5M,10M,50M --data-dir /tmp/tqbench

Lakes are generated once per size (simulator -> decode -> EventColumns -> Lake.commit_parquet
as ingest-sized files, then ``compact``) under ``--data-dir`` and reused by later runs. Redis is
always a private redis-server on a free port. Prints a table with medians and ratios; exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench import (
    emitter_figures,
    ingest_figures,
    query_figures,
    s3_figures,
    spark_figures,
    stream_figures,
)
from bench.datagen import fill_lake
from bench.figures import Figure, render
from tasqlake.lake.chain import chain_size
from tasqlake.lake.compaction import compact
from tasqlake.lake.layout import TASK_SNAPSHOTS_DIR
from tasqlake.lake.storage import Lake

DEFAULT_DATA_DIR = Path("/tmp/tasqlake-bench")


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1_000}k"


def lake_dir(data_dir: Path, size: int) -> Path:
    return data_dir / f"lake-{label(size).lower()}"


def prepare_lake(data_dir: Path, size: int) -> tuple[Lake, dict[str, float]]:
    """The compacted lake of ``size`` events (generated on first use) and its storage numbers."""
    root = lake_dir(data_dir, size)
    marker = root.with_suffix(".json")
    lake = Lake(root)
    if not marker.exists():
        info: dict[str, float] = {}
        if not lake.exists("events"):
            started = time.perf_counter()
            generated = fill_lake(lake.ensure(), size)
            info["generate_s"] = time.perf_counter() - started
            info["ingest_files_bytes_per_event"] = generated.bytes / generated.events
        marker.write_text(json.dumps(info))
    info = json.loads(marker.read_text())
    started = time.perf_counter()
    if compact(lake, timedelta(hours=1), grace=timedelta(0)).partitions:
        # compacted now (first use, or a lake compacted before task snapshots existed)
        compact(lake, timedelta(hours=1), grace=timedelta(0))  # deletes the superseded files
        info["compact_s"] = time.perf_counter() - started
        marker.write_text(json.dumps(info))
    files = lake.list_files("events")
    rows = query_figures.count_rows(lake)
    info["events"] = rows
    info["bytes_per_event"] = sum(lake.size(f) for f in files) / max(rows, 1)
    snapshots = lake.list_files(TASK_SNAPSHOTS_DIR)
    info["snapshot_bytes_per_event"] = sum(lake.size(f) for f in snapshots) / max(rows, 1)
    for part, size in chain_size(lake).items():
        info[f"chain_{part}_bytes_per_event"] = size / max(rows, 1)
    info["hours"] = len(list(lake.iter_partitions("events")))
    return lake, info


def derived_storage_figure(size_label: str, info: dict[str, float]) -> Figure:
    """All derived state per event: task snapshots and every part of the snapshot chain."""
    parts = {"task snapshots": info.get("snapshot_bytes_per_event", 0.0)}
    parts.update(
        {
            f"chain {key.removeprefix('chain_').removesuffix('_bytes_per_event')}": value
            for key, value in info.items()
            if key.startswith("chain_")
        }
    )
    total = sum(parts.values())
    shares = ", ".join(f"{name} {value:.2f}" for name, value in parts.items())
    return Figure(
        f"derived state bytes per stored event @{size_label}",
        total,
        "B",
        limit=10,
        anchor="task snapshots alone 9.8-12.9",
        note=shares,
    )


def compaction_figure(size_label: str, info: dict[str, float]) -> Figure | None:
    """The first compaction of the lake (events, task snapshots and the chain)."""
    if "compact_s" not in info:
        return None
    return Figure(
        f"compaction of the whole lake (first use, chain included) @{size_label}",
        info["compact_s"],
        "s",
        limit=85 * info["events"] / 10_000_000,
        anchor="10M in 85 s before the chain",
        note=f"{info['events'] / info['compact_s']:,.0f} events/s",
    )


def rebuild_figure(lake: Lake, size_label: str, info: dict[str, float]) -> Figure | None:
    """A late file into the hour one day before the last: the next compaction re-compacts that
    hour and rebuilds the chain from it; against compacting one day of this lake."""
    hours = sorted(lake.iter_partitions("events"))
    if len(hours) < 26 or "compact_s" not in info:
        return None
    date, hour = hours[-25]
    partition = f"events/date={date}/hour={hour:02d}"
    source = lake.list_files(partition)[0]
    lake.commit_parquet(f"{partition}/late-copy.parquet", lake.read_table(source))
    started = time.perf_counter()
    report = compact(lake, timedelta(hours=1), grace=timedelta(0))
    took = time.perf_counter() - started
    one_day = info["compact_s"] * 24 / len(hours)
    return Figure(
        f"chain rebuild after a late file one day back @{size_label}",
        took,
        "s",
        baseline=one_day,
        baseline_name="compacting one day",
        limit=2.0,
        compare_ratio=True,
        note=f"{len(report.chain.links)} links rebuilt",
    )


def storage_figure(size_label: str, info: dict[str, float]) -> Figure:
    before = info.get("ingest_files_bytes_per_event")
    return Figure(
        f"bytes per stored event after compaction @{size_label}",
        info["bytes_per_event"],
        "B",
        baseline=before,
        baseline_name="as ingest files" if before else "",
        limit=22,
        anchor="zstd ~20, snappy ~33",
        note=f"+ task snapshots {info.get('snapshot_bytes_per_event', 0):.1f} B/event (derived)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not hours)")
    parser.add_argument(
        "--only", choices=("ingest", "queries", "s3", "spark", "streams", "all"), default="all"
    )
    parser.add_argument("--sizes", help="query lake sizes, e.g. 10M,50M (default: per mode)")
    parser.add_argument("--snapshot-sizes", help="small,big for the 'now' ratio (default 5M,50M)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per query")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = [parse_size(s) for s in (args.sizes or ("200k,1M" if quick else "10M,50M")).split(",")]
    small, big = (
        parse_size(s)
        for s in (args.snapshot_sizes or ("200k,1M" if quick else "5M,50M")).split(",")
    )
    repeat = args.repeat or (3 if quick else 5)
    figures: list[Figure] = []

    def show(new: list[Figure]) -> None:
        figures.extend(new)
        print(render(new), flush=True)

    if args.only in ("ingest", "all"):
        show(ingest_figures.drain_figures(100_000 if quick else 1_000_000))
        show([ingest_figures.freshness_figure(5 if quick else 30)])
        show(ingest_figures.live_figures(200_000, 5 if quick else 60))
    if args.only in ("queries", "all"):
        for size in sorted(set(sizes) | {small, big}):
            lake, info = prepare_lake(args.data_dir, size)
            if size == max(sizes):
                show([storage_figure(label(size), info), derived_storage_figure(label(size), info)])
            compaction = compaction_figure(label(size), info)
            if compaction is not None:
                show([compaction])
            if size in sizes:
                show(query_figures.view_figures(lake, label(size), repeat))
        costs = {
            size: query_figures.now_cost(prepare_lake(args.data_dir, size)[0], repeat)
            for size in (small, big)
        }
        show(query_figures.now_figures((label(small), costs[small]), (label(big), costs[big])))
        big_lake, big_info = prepare_lake(args.data_dir, big)
        rebuild = rebuild_figure(big_lake, label(big), big_info)
        if rebuild is not None:
            show([rebuild])
    if args.only in ("s3", "all"):
        show([s3_figures.drain_figure(100_000 if quick else 1_000_000)])
        s3_size = min(sizes) if quick else parse_size("10M")
        show(
            [s3_figures.now_figure(prepare_lake(args.data_dir, s3_size)[0], label(s3_size), repeat)]
        )
    if args.only in ("streams", "all"):
        show(emitter_figures.emitter_figures(5_000 if quick else 20_000))
        show([stream_figures.stream_drain_figure(100_000 if quick else 1_000_000)])
    if args.only in ("spark", "all"):
        spark_size = min(sizes) if quick else parse_size("10M")
        spark_lake, spark_info = prepare_lake(args.data_dir, spark_size)
        show(
            spark_figures.spark_figures(
                spark_lake, label(spark_size), int(spark_info["events"]), repeat
            )
        )
    print()
    print(render(figures))
    missed = [f.name for f in figures if f.ok is False]
    if missed:
        print(f"\n{len(missed)} target(s) missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
