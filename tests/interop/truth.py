"""Ground truth of the interop scenario and the driver's view of Redis.

The truth is built from what the harness did (dispatches, signals) and from the
journal the task code itself writes; it never looks at AsyncTasQ's events.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import redis


@dataclass
class Dispatch:
    task_id: str
    task_name: str
    queue: str
    delay_s: int
    max_attempts: int
    fail_times: int
    sleep_s: float
    t: float


@dataclass
class WorkerRun:
    role: str
    worker_id: str
    queues: list[str]
    concurrency: int
    pid: int = 0
    spawned_at: float = 0.0
    started_at: float | None = None  # journal "worker_start", just before Worker.start()
    stop_signal: str | None = None  # "SIGTERM" / "SIGKILL" / None (alive at the snapshot)
    signal_at: float | None = None
    exited_at: float | None = None
    exit_code: int | None = None
    in_flight_at_signal: list[str] = field(default_factory=list)


def read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def in_flight(journal: list[dict[str, Any]], worker_id: str) -> list[str]:
    """Task ids whose latest journal step on ``worker_id`` is a start."""
    last: dict[str, dict[str, Any]] = {}
    for rec in journal:
        if rec.get("task_id"):
            last[rec["task_id"]] = rec
    return sorted(
        t for t, r in last.items() if r["kind"] == "start" and r["worker_id"] == worker_id
    )


def task_outcomes(
    dispatches: list[Dispatch], journal: list[dict[str, Any]], killed: set[str]
) -> dict[str, str]:
    """completed | failed | running_lost | pending | retrying | running, per task id."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for rec in journal:
        if rec.get("task_id"):
            steps.setdefault(rec["task_id"], []).append(rec)
    out: dict[str, str] = {}
    for d in dispatches:
        recs = steps.get(d.task_id, [])
        if not recs:
            out[d.task_id] = "pending"
            continue
        last = recs[-1]
        if last["kind"] == "ok":
            out[d.task_id] = "completed"
        elif last["kind"] == "fail":
            out[d.task_id] = "failed" if last["attempt"] >= d.max_attempts else "retrying"
        else:
            out[d.task_id] = "running_lost" if last["worker_id"] in killed else "running"
    return out


def build_truth(
    dispatches: list[Dispatch],
    workers: list[WorkerRun],
    journal: list[dict[str, Any]],
    queues: list[str],
    snapshot_at: float,
    settings: dict[str, Any],
) -> dict[str, Any]:
    killed = {w.worker_id for w in workers if w.stop_signal == "SIGKILL"}
    outcomes = task_outcomes(dispatches, journal, killed)
    per_queue: dict[str, dict[str, Any]] = {}
    for q in queues:
        ds = [d for d in dispatches if d.queue == q]
        ids = {d.task_id for d in ds}
        steps = [r for r in journal if r.get("task_id") in ids]

        def pick(state: str, ds: list[Dispatch] = ds) -> list[str]:
            return sorted(d.task_id for d in ds if outcomes[d.task_id] == state)

        per_queue[q] = {
            "dispatched": sorted(ids),
            "dispatched_delayed": sorted(d.task_id for d in ds if d.delay_s > 0),
            "completed": pick("completed"),
            "failed": pick("failed"),
            "pending": pick("pending"),
            "pending_delayed": sorted(
                d.task_id for d in ds if outcomes[d.task_id] == "pending" and d.delay_s > 0
            ),
            "running_lost": pick("running_lost"),
            "retrying": pick("retrying"),
            "running": pick("running"),
            "attempts_started": sum(1 for r in steps if r["kind"] == "start"),
            "attempts_failed_then_retried": sum(
                1 for r in steps if r["kind"] == "fail" and r["attempt"] < r["max_attempts"]
            ),
        }
    worker_rows = []
    for w in workers:
        row = asdict(w)
        mine = [r for r in journal if r.get("task_id") and r.get("worker_id") == w.worker_id]
        row["completed"] = sum(1 for r in mine if r["kind"] == "ok")
        row["failed_permanently"] = sum(
            1 for r in mine if r["kind"] == "fail" and r["attempt"] >= r["max_attempts"]
        )
        row["processed"] = row["completed"] + row["failed_permanently"]
        row["final_state"] = {"SIGKILL": "lost", "SIGTERM": "offline"}.get(
            w.stop_signal or "", "alive"
        )
        row["uptime_at_snapshot_s"] = (
            snapshot_at - w.started_at if w.started_at and w.stop_signal is None else None
        )
        worker_rows.append(row)
    return {
        "settings": settings,
        "snapshot_at": snapshot_at,
        "queues": per_queue,
        "workers": worker_rows,
        "tasks": [asdict(d) | {"outcome": outcomes[d.task_id]} for d in dispatches],
        "journal": journal,
    }


def _task_id(raw: bytes) -> str:
    try:
        doc = msgspec.msgpack.decode(raw)
        return str(doc["metadata"]["task_id"])
    except Exception:  # not an AsyncTasQ payload
        return "?"


def redis_contents(client: redis.Redis, queues: list[str]) -> dict[str, dict[str, list[str]]]:
    """Task ids in each queue's main list, delayed zset and processing list."""
    out: dict[str, dict[str, list[str]]] = {}
    for q in queues:
        main = client.lrange(f"queue:{q}", 0, -1)
        delayed = client.zrange(f"queue:{q}:delayed", 0, -1)
        processing = client.lrange(f"queue:{q}:processing", 0, -1)
        out[q] = {
            "main": sorted(_task_id(x) for x in main),  # type: ignore[union-attr]
            "delayed": sorted(_task_id(x) for x in delayed),  # type: ignore[union-attr]
            "processing": sorted(_task_id(x) for x in processing),  # type: ignore[union-attr]
        }
    return out


def redis_keys(client: redis.Redis) -> dict[str, str]:
    """Every key in the private DB with its type (for the semantics write-up)."""
    keys = sorted(k.decode() for k in client.scan_iter(count=1000))  # type: ignore[union-attr]
    return {k: client.type(k).decode() for k in keys}  # type: ignore[union-attr]
