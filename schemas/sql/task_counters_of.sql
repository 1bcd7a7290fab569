-- task_counters_of: the additive counters of a relation of tasks (one row per task in the
-- columns of combine_task_partials or merge_task_partials), per queue, task_name and worker_id
-- (a table macro: FROM task_counters_of('relation')). The snapshot chain folds the counters of
-- the tasks it settles into these columns and the views add the counters of the tasks still
-- open: queue_stats, global_stats, retry_rates and worker_stats are sums of them (durations as
-- a sum and a count, so that the mean of the sum is the mean of all).
-- Grain: one row per (queue, task_name, worker_id) of the relation (NULLs are a group).
-- Columns:
--   queue                   queue of the tasks
--   task_name               task name of the tasks
--   worker_id               worker of the tasks' causally latest attempt event
--   tasks                   tasks
--   pending                 tasks pending
--   running                 tasks running
--   completed               tasks completed
--   failed                  tasks failed for good
--   cancelled               tasks cancelled
--   attempts                attempts begun (task_attempts_begun), summed
--   retries                 retries (task_retries), summed
--   tasks_retried           tasks retried at least once
--   retried_then_completed  tasks retried at least once that completed
--   duration_sum            sum of the completing attempt's duration_ms of completed tasks
--   duration_count          completed tasks with a duration_ms
CREATE OR REPLACE MACRO task_counters_of(tasks) AS TABLE
WITH t AS (
    SELECT
        queue,
        task_name,
        worker_id,
        causal_state(top_key) AS state,
        task_attempts_begun(top_key, progress) AS attempts,
        task_retries(top_key, progress) AS retries,
        completed_duration
    FROM query_table(tasks)
)
SELECT
    queue,
    task_name,
    worker_id,
    count(*) AS tasks,
    count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'running') AS running,
    count(*) FILTER (WHERE state = 'completed') AS completed,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
    CAST(sum(attempts) AS BIGINT) AS attempts,
    CAST(sum(retries) AS BIGINT) AS retries,
    count(*) FILTER (WHERE retries > 0) AS tasks_retried,
    count(*) FILTER (WHERE state = 'completed' AND retries > 0) AS retried_then_completed,
    CAST(coalesce(sum(completed_duration) FILTER (WHERE state = 'completed'), 0) AS BIGINT)
        AS duration_sum,
    count(completed_duration) FILTER (WHERE state = 'completed') AS duration_count
FROM t
GROUP BY queue, task_name, worker_id;
