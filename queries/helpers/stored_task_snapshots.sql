-- stored_task_snapshots: every task snapshot in the lake (see lake/layout.py): per-task
-- partial aggregates that compaction stored for each compacted hour partition, in the columns
-- of task_partials_of, then the partition's date and hour. Reads
-- LAKE/task_snapshots/date=YYYY-MM-DD/hour=HH/*.parquet (glob in the variable
-- tasqlake_task_snapshots_glob, set by queries.connect, written in by queries.ddl). Readers
-- filter on date and hour (task_partials: the partitions closed at T; their other partitions'
-- events are read as rows instead, see unsnapshotted_log), which skips files before reading
-- them. A lake without snapshots gives no rows (the typed empty branch keeps every
-- column present). While compaction's grace period runs, a partition may hold a superseded
-- snapshot next to its successor: their rows repeat the same events, which the merge in
-- task_state ignores (every aggregate there is duplicate-insensitive). The columns are those of
-- task_partials_of, in its order, whether or not the lake holds snapshots (read_partitions
-- adds filename and, when the glob matches no file, a placeholder column named empty: the typed
-- empty branch always adds both so that they can always be left out).
-- Grain: one row per task per stored snapshot.
CREATE OR REPLACE VIEW stored_task_snapshots AS
SELECT * EXCLUDE ("empty", "filename")
FROM (
    SELECT * FROM read_partitions(getvariable('tasqlake_task_snapshots_glob'))
    UNION ALL BY NAME
    SELECT
        *, CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    FROM task_partials_of('stored_events')
    WHERE false
);
