-- throughput_series: completions and failures per queue and task type over time (a table macro:
-- FROM throughput_series(INTERVAL 1 HOUR), or a window of it: FROM throughput_series(INTERVAL 1
-- HOUR, since := TIMESTAMPTZ '…', until := TIMESTAMPTZ '…')), as of T. Buckets [bucket_start,
-- bucket_start + width) aligned by time_bucket, in UTC whatever the session's TimeZone (see
-- add_utc); only buckets with at least one end event have a row. A window gives the rows whose
-- bucket holds or follows since and holds or precedes until, reading only the events (and the
-- hour partitions) from since's bucket on.
-- Grain: one row per queue, task_name and bucket with an end event.
-- Columns:
--   completed        task_completed events in the bucket (each event once)
--   failed           task_failed events (failed for good)
--   retried          task_reenqueued events (failed attempts that will be retried)
--   avg_duration_ms  mean duration_ms of the bucket's task_completed events
--   complete         false when the bucket overlaps an ingest gap (its counts may be too low);
--                    see ingest_gaps and coverage_complete
CREATE OR REPLACE MACRO throughput_series(width, since := NULL, until := NULL) AS TABLE
WITH ends AS (
    SELECT DISTINCT ON (event_id)
        event_id, queue, task_name, event_type, "timestamp", duration_ms
    FROM event_log
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_completed', 'task_failed', 'task_reenqueued')
      AND stamped_from(
          "timestamp", "date", "hour", time_bucket(width, CAST(since AS TIMESTAMPTZ)))
      AND (until IS NULL
           OR "timestamp" < add_utc(time_bucket(width, CAST(until AS TIMESTAMPTZ)), width))
),
counted AS (
    SELECT
        queue,
        task_name,
        time_bucket(width, "timestamp") AS bucket_start,
        count(*) FILTER (WHERE event_type = 'task_completed') AS completed,
        count(*) FILTER (WHERE event_type = 'task_failed') AS failed,
        count(*) FILTER (WHERE event_type = 'task_reenqueued') AS retried,
        avg(duration_ms) FILTER (WHERE event_type = 'task_completed') AS avg_duration_ms
    FROM ends
    GROUP BY queue, task_name, time_bucket(width, "timestamp")
)
SELECT  -- coverage per bucket, after grouping (a correlated test inside the GROUP BY would
        -- repeat per row, and Spark cannot correlate on a grouping expression)
    queue,
    task_name,
    bucket_start,
    add_utc(bucket_start, width) AS bucket_end,
    completed,
    failed,
    retried,
    avg_duration_ms,
    coverage_complete(bucket_start, add_utc(bucket_start, width)) AS complete
FROM counted
ORDER BY queue, task_name, bucket_start;
