-- retry_rates: how often each task type is retried and fails, per queue, as of T (from
-- task_state: each task counted once, in its state at T). Sums of task_counters (the snapshot
-- chain's folded counters plus the tasks not settled).
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
        CAST(sum(tasks) AS BIGINT) AS tasks,
        CAST(sum(attempts) AS BIGINT) AS attempts,
        CAST(sum(retries) AS BIGINT) AS retries,
        CAST(sum(tasks_retried) AS BIGINT) AS tasks_retried,
        CAST(sum(failed) AS BIGINT) AS failed,
        CAST(sum(completed) AS BIGINT) AS completed,
        CAST(sum(retried_then_completed) AS BIGINT) AS retried_then_completed
    FROM task_counters
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
