"""Records of files superseded by compaction, kept until their grace period is over.

One JSON manifest per compaction of a partition, committed atomically *after* the compacted
output files and *before* anything is deleted::

    compaction/superseded/date=2026-11-02/hour=08/compacted-000002-1a2b3c4d.json

It lists the outputs, the superseded inputs (with their sizes) and when they were superseded.
A superseded file stays on disk (and visible to readers, who remove the duplicates by event_id)
until ``superseded_at + grace``; a later run deletes it, then the manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import StorageError

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Superseded:
    path: str
    size: int


@dataclass(frozen=True)
class Manifest:
    partition: str  # e.g. events/date=2026-11-02/hour=08
    outputs: tuple[str, ...]
    superseded: tuple[Superseded, ...]
    superseded_at: datetime
    rows_in: int
    rows_out: int

    @property
    def superseded_paths(self) -> frozenset[str]:
        return frozenset(s.path for s in self.superseded)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": MANIFEST_VERSION,
                "partition": self.partition,
                "outputs": list(self.outputs),
                "superseded": [{"path": s.path, "size": s.size} for s in self.superseded],
                "superseded_at": self.superseded_at.isoformat(),
                "rows_in": self.rows_in,
                "rows_out": self.rows_out,
            },
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            obj = json.loads(data)
            return cls(
                partition=obj["partition"],
                outputs=tuple(obj["outputs"]),
                superseded=tuple(Superseded(s["path"], int(s["size"])) for s in obj["superseded"]),
                superseded_at=datetime.fromisoformat(obj["superseded_at"]),
                rows_in=int(obj["rows_in"]),
                rows_out=int(obj["rows_out"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise StorageError(
                f"compaction manifest {where} is unreadable ({error}): delete it and rerun "
                "'tasqlake compact' (superseded files it listed will be merged again)"
            ) from None


def manifest_path(partition: str, first_output: str) -> str:
    """Where the manifest of a compaction of ``partition`` into ``first_output`` goes."""
    hive = partition.split("/", 1)[1]  # date=…/hour=…
    stem = first_output.rsplit("/", 1)[-1].removesuffix(".parquet")
    return f"{layout.MANIFEST_DIR}/{hive}/{stem}.json"


def load_manifests(lake: Lake) -> list[tuple[str, Manifest]]:
    """Every manifest of the lake, with its path, in path order."""
    found = []
    for rel in lake.list_files(layout.MANIFEST_DIR, suffix=".json"):
        try:
            data = lake.read_bytes(rel)
        except FileNotFoundError:
            continue  # deleted by a concurrent run
        except StorageError as error:
            raise StorageError(f"cannot read compaction manifest: {error}") from None
        found.append((rel, Manifest.from_json(data, lake.describe(rel))))
    return found


def write_manifest(lake: Lake, manifest: Manifest) -> str:
    rel = manifest_path(manifest.partition, manifest.outputs[0])
    lake.commit_bytes(rel, manifest.to_json(), exclusive=True)
    return rel


def load_manifests_only(lake: Lake) -> list[Manifest]:
    return [m for _, m in load_manifests(lake)]


def superseded_paths(manifests: Iterable[Manifest]) -> frozenset[str]:
    """Every file some manifest lists as superseded (not live any more)."""
    return frozenset(p for m in manifests for p in m.superseded_paths)
