-- recent_failures: the errors of the hour before T, per queue, task type and kind of error,
-- most frequent first: what `tasqlake stats` shows as the last hour's failure highlights.
-- Counts failed attempts (failed_attempts) stamped in (T - 1 hour, T]; failures covers the
-- whole history.
-- Grain: one row per queue, task_name and error_class with a failed attempt in the last hour.
-- Columns:
--   queue         queue name
--   task_name     task type
--   error_class   exception type, else the normalised message
--   failed        attempts that failed for good (task_failed)
--   retried       attempts that failed and were retried (task_reenqueued)
--   last_seen     latest such event
--   sample_error  the error message of the latest one
CREATE OR REPLACE VIEW recent_failures AS
SELECT
    queue,
    task_name,
    error_class,
    count(*) FILTER (WHERE event_type = 'task_failed') AS failed,
    count(*) FILTER (WHERE event_type = 'task_reenqueued') AS retried,
    max("timestamp") AS last_seen,
    arg_max_null(error, "timestamp") AS sample_error
FROM failed_attempts
WHERE "timestamp" > as_of() - INTERVAL 1 HOUR
GROUP BY queue, task_name, error_class
ORDER BY failed + retried DESC, queue, task_name, error_class;
