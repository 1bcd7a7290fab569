-- late_events: events stamped later than the allowed lateness after their task had settled
-- (its terminal event), found by compaction while building the snapshot chain (one row per
-- such event). The chain took each such task back from settlement at the link that found it,
-- so every view is exact again from that link on; until then (between the event's arrival and
-- the next compaction) the task is counted both as settled and as new. Read from the links of
-- the valid chain up to chain_head. Detection covers tasks whose earlier events are within the
-- detection horizon (7 days) before the hour of the late event, and late events other than a
-- task_enqueued (a task_enqueued of a task_id that settled long ago is taken as a new task).
-- Grain: one row per late event row found (as of T: links ending at or before T).
-- Columns:
--   task_id              the task
--   queue                its queue
--   task_name            its task name
--   event_type           the late event's type
--   timestamp            the late event's timestamp
--   settled_finished_at  when the task had ended (its deciding terminal event) before it
--   late_by_s            seconds from settled_finished_at to the late event
--   detected_in          end of the hour whose chain link found it
CREATE OR REPLACE VIEW late_events AS
WITH found AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_late_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS VARCHAR) AS task_id, CAST(NULL AS VARCHAR) AS queue,
        CAST(NULL AS VARCHAR) AS task_name, CAST(NULL AS VARCHAR) AS event_type,
        CAST(NULL AS TIMESTAMPTZ) AS "timestamp",
        CAST(NULL AS TIMESTAMPTZ) AS settled_finished_at, CAST(NULL AS DOUBLE) AS late_by_s,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    WHERE false
)
SELECT
    task_id,
    queue,
    task_name,
    event_type,
    "timestamp",
    settled_finished_at,
    late_by_s,
    link_hour_end AS detected_in
FROM chain_link_rows('found');
