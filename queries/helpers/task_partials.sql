-- task_partials: the per-task partial aggregates (columns of task_partials_of) of every event
-- row stamped <= T: read from the task snapshots of the partitions closed at T
-- (stored_task_snapshots), computed now for every other row (unsnapshotted_log). Merging the
-- rows of one task (max, min, arg_max by the stored keys) gives exactly what one pass over all
-- its events gives: task_state does it for every column, queue_stats for the ones it needs.
-- Grain: one row per task per snapshot or per the unsnapshotted rows that hold its events.
CREATE OR REPLACE VIEW task_partials AS
SELECT * EXCLUDE ("date", "hour")
FROM stored_task_snapshots
WHERE partition_closed("date", "hour")
UNION ALL BY NAME
SELECT * FROM task_partials_of('unsnapshotted_log');
