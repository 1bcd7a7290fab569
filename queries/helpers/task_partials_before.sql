-- task_partials_before: the per-task partial aggregates (columns of task_partials_of) of every
-- task event stamped before `instant` and <= T (a table macro: FROM
-- task_partials_before(TIMESTAMPTZ '…')): task_partials as of an instant other than T, so that
-- one query can start from the state at one instant and replay the rows after it (see
-- queue_depth_series' since). The partitions closed at the instant come from their task
-- snapshots (and their files no snapshot covers), the partition holding it from its rows before
-- it; later partitions are not read. An instant after T is T.
-- Grain: one row per task per snapshot or per the rows that hold its events before the instant.
CREATE OR REPLACE MACRO task_partials_before(instant) AS TABLE
WITH rows_before AS (
    SELECT * EXCLUDE (source_file)
    FROM stored_events
    WHERE "timestamp" < instant
      AND "timestamp" <= log_horizon()
      AND (partition_closed("date", "hour") OR partition_at_horizon("date", "hour"))
      AND (partition_holds("date", "hour", instant)
           OR (partition_closed_at("date", "hour", instant)
               AND (partition_at_horizon("date", "hour")
                    OR NOT starts_with(parse_filename(source_file), 'snapshotted-'))))
)
SELECT * EXCLUDE ("date", "hour")
FROM stored_task_snapshots
WHERE partition_closed("date", "hour") AND partition_closed_at("date", "hour", instant)
UNION ALL BY NAME
SELECT * FROM task_partials_of('rows_before');
