-- retry_rates: how often each task type is retried and fails, per queue, as of T (from
-- task_state: each task counted once, in its state at T).
-- Grain: one row per queue and task_name.
-- Columns:
--   tasks                  tasks seen
--   attempts               attempts begun (sum of task_state.attempts)
--   retries                reenqueues (sum of task_state.retries)
--   retry_rate             retries / attempts (NULL without attempts)
--   tasks_retried          tasks retried at least once
--   failed                 tasks failed for good
--   failure_rate           failed / (completed + failed) (NULL when none finished)
--   eventual_success_rate  tasks completed after >= 1 retry / tasks_retried (NULL when none)
CREATE OR REPLACE VIEW retry_rates AS
WITH per_type AS (
    SELECT
        queue,
        task_name,
        count(*) AS tasks,
        CAST(sum(attempts) AS BIGINT) AS attempts,
        CAST(sum(retries) AS BIGINT) AS retries,
        count(*) FILTER (WHERE retries > 0) AS tasks_retried,
        count(*) FILTER (WHERE state = 'failed') AS failed,
        count(*) FILTER (WHERE state = 'completed') AS completed,
        count(*) FILTER (WHERE state = 'completed' AND retries > 0) AS retried_then_completed
    FROM task_state
    GROUP BY queue, task_name
)
SELECT
    queue,
    task_name,
    tasks,
    attempts,
    retries,
    CASE WHEN attempts > 0 THEN retries / attempts END AS retry_rate,
    tasks_retried,
    failed,
    CASE WHEN completed + failed > 0 THEN failed / (completed + failed) END AS failure_rate,
    CASE WHEN tasks_retried > 0 THEN retried_then_completed / tasks_retried END
        AS eventual_success_rate
FROM per_type;
