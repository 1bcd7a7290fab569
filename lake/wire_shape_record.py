"""Reading back which wire shapes the events files of a lake were decoded from.

Every events file the ingester, ``tasqlake import`` (and ``--from-quarantine``) or compaction
commits records, in its Parquet key-value metadata under ``tasqlake.wire_shapes``, the shapes of
the payloads its rows came from (:mod:`tasqlake.schemas.wire_shapes`), e.g.
``asynctasq-events/1``; a compacted file records those of all its inputs. A file written before
the key existed reads as ``asynctasq-events/1``: every AsyncTasQ release up to then published
that shape. Only the footers are read, never the rows.
"""

from __future__ import annotations

from collections import Counter

from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.wire_shapes import sorted_shape_names, wire_shapes_of


def file_wire_shapes(lake: Lake, relpath: str) -> tuple[str, ...]:
    """The wire shape names the events file ``relpath`` records, sorted by number."""
    return wire_shapes_of(lake.read_metadata(relpath).schema.to_arrow_schema().metadata)


def lake_wire_shapes(lake: Lake) -> dict[str, int]:
    """Each wire shape found in the lake's events files, with how many files record it."""
    counts: Counter[str] = Counter()
    for relpath in lake.list_files(layout.EVENTS_DIR):
        counts.update(file_wire_shapes(lake, relpath))
    return {name: counts[name] for name in sorted_shape_names(counts)}
