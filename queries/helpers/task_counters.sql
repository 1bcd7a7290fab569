-- task_counters: the counters (columns of task_counters_of) of every task as of T, per queue,
-- task name and worker: those chain_head folded for the settled tasks plus those of the tasks
-- not settled (live_tasks). global_stats and retry_rates are sums of them.
-- Grain: one row per (queue, task_name, worker_id) seen in a task event stamped <= T.
CREATE OR REPLACE VIEW task_counters AS
WITH live AS (
    SELECT * FROM live_tasks
),
counted AS (
    SELECT * FROM chain_folded
    UNION ALL BY NAME
    SELECT * FROM task_counters_of('live')
)
SELECT
    queue,
    task_name,
    worker_id,
    CAST(sum(tasks) AS BIGINT) AS tasks,
    CAST(sum(pending) AS BIGINT) AS pending,
    CAST(sum(running) AS BIGINT) AS running,
    CAST(sum(completed) AS BIGINT) AS completed,
    CAST(sum(failed) AS BIGINT) AS failed,
    CAST(sum(cancelled) AS BIGINT) AS cancelled,
    CAST(sum(attempts) AS BIGINT) AS attempts,
    CAST(sum(retries) AS BIGINT) AS retries,
    CAST(sum(tasks_retried) AS BIGINT) AS tasks_retried,
    CAST(sum(retried_then_completed) AS BIGINT) AS retried_then_completed,
    CAST(sum(duration_sum) AS BIGINT) AS duration_sum,
    CAST(sum(duration_count) AS BIGINT) AS duration_count
FROM counted
GROUP BY queue, task_name, worker_id;
