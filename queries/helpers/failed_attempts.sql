-- failed_attempts: every failed attempt as of T, each event once, with its kind of error: the
-- task_failed (failed for good) and task_reenqueued (will be retried) events. Building block of
-- failures and recent_failures. error_class: see error_class.sql (exception type from the
-- traceback's last line, else the normalised message; task_reenqueued has no traceback in 1.7).
-- Grain: one row per task_failed or task_reenqueued event (event_id) stamped <= T.
-- Columns:
--   event_id     the event's id
--   queue        queue name
--   task_name    task type
--   event_type   task_failed or task_reenqueued
--   timestamp    when the attempt failed
--   error        the error message
--   error_class  the kind of error
CREATE OR REPLACE VIEW failed_attempts AS
SELECT DISTINCT ON (event_id)
    event_id, queue, task_name, event_type, "timestamp", error,
    error_class(error, traceback) AS error_class
FROM event_log
WHERE task_id IS NOT NULL
  AND event_type IN ('task_failed', 'task_reenqueued');
