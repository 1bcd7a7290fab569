-- unsnapshotted_log: the rows of event_log that no usable task snapshot covers: task_state
-- aggregates these and merges them with stored_task_snapshots. A compacted file named
-- snapshotted-… is covered by the task snapshot compaction wrote before it (see
-- lake/layout.py); the snapshot is usable when its partition is closed at T
-- (partition_closed). So this is: files no compaction has snapshotted (recent hours,
-- late files, lakes compacted before snapshots existed), plus the whole horizon's hour. Both
-- tests are on the file's name (never its directories) and the Hive columns, so DuckDB skips
-- covered files unread.
-- Grain: one row per stored row with timestamp <= T whose file no usable snapshot covers.
CREATE OR REPLACE VIEW unsnapshotted_log AS
SELECT * EXCLUDE (source_file)
FROM stored_events
WHERE "timestamp" <= log_horizon()
  AND (partition_at_horizon("date", "hour")
       OR (partition_closed("date", "hour")
           AND NOT starts_with(parse_filename(source_file), 'snapshotted-')));
