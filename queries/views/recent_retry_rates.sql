-- recent_retry_rates: retry and failure rates of the hour before T, per queue and task type:
-- what `tasqlake stats` shows as the last hour's retry highlights. Counts attempts, not tasks:
-- events stamped in (T - 1 hour, T], each event once (see retry_rates for whole-history rates
-- by task).
-- Grain: one row per queue and task_name with a task event in the last hour.
-- Columns:
--   queue          queue name
--   task_name      task type
--   attempts       attempts started (task_started)
--   completed      attempts completed (task_completed)
--   retries        attempts failed and retried (task_reenqueued)
--   failed         attempts failed for good (task_failed)
--   retry_rate     retries / attempts (NULL without attempts)
--   failure_rate   failed / (completed + failed) (NULL when none finished)
CREATE OR REPLACE VIEW recent_retry_rates AS
WITH recent AS (
    SELECT DISTINCT ON (event_id) event_id, queue, task_name, event_type
    FROM event_log
    WHERE task_id IS NOT NULL
      AND "timestamp" > as_of() - INTERVAL 1 HOUR
),
per_type AS (
    SELECT
        queue,
        task_name,
        count(*) FILTER (WHERE event_type = 'task_started') AS attempts,
        count(*) FILTER (WHERE event_type = 'task_completed') AS completed,
        count(*) FILTER (WHERE event_type = 'task_reenqueued') AS retries,
        count(*) FILTER (WHERE event_type = 'task_failed') AS failed
    FROM recent
    GROUP BY queue, task_name
)
SELECT
    queue,
    task_name,
    attempts,
    completed,
    retries,
    failed,
    CASE WHEN attempts > 0 THEN retries / attempts END AS retry_rate,
    CASE WHEN completed + failed > 0 THEN failed / (completed + failed) END AS failure_rate
FROM per_type
ORDER BY retry_rate DESC NULLS LAST, queue, task_name;
