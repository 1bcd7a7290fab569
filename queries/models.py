"""Result objects with the field names of AsyncTasQ's monitoring models (no asynctasq import).

``QueueStats`` and ``WorkerInfo`` mirror ``asynctasq.core.models`` of 1.7 field for field, so code
written against ``MonitoringService`` reads tasqlake's answers unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue, as ``MonitoringService.get_queue_stats`` returns it."""

    name: str
    depth: int
    processing: int
    completed_total: int = 0
    failed_total: int = 0
    avg_duration_ms: float | None = None
    throughput_per_minute: float | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker, as ``MonitoringService.get_worker_stats`` returns it."""

    worker_id: str
    status: str
    current_task_id: str | None = None
    tasks_processed: int = 0
    uptime_seconds: int = 0
    last_heartbeat: datetime | None = None
    load_percentage: float = 0.0


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a view: name, DuckDB type and the meaning stated in the SQL header."""

    name: str
    type: str
    doc: str


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """A view or macro of ``queries/``: what it means, its grain and its columns."""

    name: str
    kind: str  # "view" | "macro"
    description: str
    grain: str
    columns: tuple[Column, ...]
    depends_on: tuple[str, ...]
    location: str
