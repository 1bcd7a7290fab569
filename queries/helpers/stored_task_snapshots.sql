-- stored_task_snapshots: the task snapshots of the partitions closed at T (see
-- lake/layout.py): per-task partial aggregates that compaction stored for each
-- compacted hour partition, in the columns of task_partials_of. Reads
-- LAKE/task_snapshots/date=YYYY-MM-DD/hour=HH/*.parquet (glob in the variable
-- tasqlake_task_snapshots_glob, set by queries.connect, written in by queries.ddl); partitions
-- not closed at T are skipped by their Hive columns (their events are read as rows instead, see
-- unsnapshotted_log). A lake without snapshots gives no rows (the typed empty branch keeps every
-- column present). While compaction's grace period runs, a partition may hold a superseded
-- snapshot next to its successor: their rows repeat the same events, which the merge in
-- task_state ignores (every aggregate there is duplicate-insensitive). The columns are those of
-- task_partials_of, in its order, whether or not the lake holds snapshots (read_partitions
-- adds filename and, when the glob matches no file, a placeholder column named empty: the typed
-- empty branch always adds both so that they can always be left out).
-- Grain: one row per task per stored snapshot of a partition closed at T.
CREATE OR REPLACE VIEW stored_task_snapshots AS
SELECT * EXCLUDE ("date", "hour", "empty", "filename")
FROM (
    SELECT * FROM read_partitions(getvariable('tasqlake_task_snapshots_glob'))
    UNION ALL BY NAME
    SELECT
        *, CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    FROM task_partials_of('stored_events')
    WHERE false
)
WHERE partition_closed("date", "hour");
