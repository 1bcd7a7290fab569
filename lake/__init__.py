"""What owns the stored files of a lake: where they live (:mod:`~tasqlake.lake.layout`), how they
are written, read, listed and deleted (:mod:`~tasqlake.lake.storage`, the one storage layer), and
what rewrites them: compaction and its task snapshots, retention.

Depends on :mod:`tasqlake.schemas` only; the ingest service and the query catalogue build on it.
"""
