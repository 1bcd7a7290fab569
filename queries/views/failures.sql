-- failures: failed attempts grouped by kind of error, per queue and task type, as of T. Every
-- failed attempt counts: task_failed (failed for good) and task_reenqueued (will be retried),
-- each event once (see failed_attempts, and error_class.sql for how errors are grouped).
-- Grain: one row per queue, task_name and error_class.
-- Columns:
--   count         failed attempts
--   permanent     of which task_failed
--   retried       of which task_reenqueued
--   first_seen    earliest such event
--   last_seen     latest such event
--   sample_error  the error message of the latest one
CREATE OR REPLACE VIEW failures AS
SELECT
    queue,
    task_name,
    error_class,
    count(*) AS count,
    count(*) FILTER (WHERE event_type = 'task_failed') AS permanent,
    count(*) FILTER (WHERE event_type = 'task_reenqueued') AS retried,
    min("timestamp") AS first_seen,
    max("timestamp") AS last_seen,
    arg_max_null(error, "timestamp") AS sample_error
FROM failed_attempts
GROUP BY queue, task_name, error_class;
