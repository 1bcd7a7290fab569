-- combine_task_partials: rows of task partials (columns of task_partials_of) combined into one
-- partial row per task, in the same columns, keys included (a table macro: FROM
-- combine_task_partials('relation'[, terminal_details := false])): min and max of their
-- columns, each arg_max by the key stored next to it, so the result merges again with any
-- other partials of the task exactly as the rows it came from would (duplicate rows change
-- nothing). This is THE merge rule: the snapshot chain's carry is combined with it, and
-- merge_task_partials reads the task's merged values out of it. With terminal_details :=
-- false, waiting_since, latest_start_at and worker_id (and their keys) are merged for tasks
-- that are not terminal only (NULL for the others), so that a reader that needs them for
-- pending and running tasks only skips them for the rest.
-- Grain: one row per task_id in the relation.
-- Columns:
--   task_id             the task
--   task_name           least task_name of its events
--   queue               least queue of its events
--   top_key             greatest causal_key (decides the state, see causal_state)
--   progress            greatest progress_key (see task_attempts_begun, task_retries)
--   waiting_key         greatest progress_key of its (re)enqueues
--   waiting_since       timestamp of that (re)enqueue
--   start_key           greatest progress_key of its starts
--   latest_start_at     timestamp of that start
--   completed_duration  largest duration_ms of its task_completed events
--   first_seen_at       earliest timestamp
--   enqueued_at         earliest task_enqueued timestamp
--   first_started_at    earliest task_started timestamp
--   error_key           greatest progress_key of its failed or reenqueued events
--   last_error          error of that event
--   last_traceback      traceback of that event
--   worker_key          greatest causal_key of its non-enqueue events that name a worker
--   worker_id           worker of the causally latest non-enqueue event (ties: arbitrary)
CREATE OR REPLACE MACRO combine_task_partials(partials, terminal_details := true) AS TABLE
SELECT
    task_id,
    min(task_name) AS task_name,
    min(queue) AS queue,
    max(top_key) AS top_key,
    max(progress) AS progress,
    max(waiting_key) FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS waiting_key,
    arg_max(waiting_since, waiting_key)
        FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS waiting_since,
    max(start_key) FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS start_key,
    arg_max(latest_start_at, start_key)
        FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS latest_start_at,
    max(completed_duration) AS completed_duration,
    min(first_seen_at) AS first_seen_at,
    min(enqueued_at) AS enqueued_at,
    min(first_started_at) AS first_started_at,
    max(error_key) AS error_key,
    arg_max_null(last_error, error_key) AS last_error,
    arg_max_null(last_traceback, error_key) AS last_traceback,
    max(worker_key) FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS worker_key,
    arg_max(worker_id, worker_key)
        FILTER (WHERE terminal_details OR NOT is_terminal(top_key)) AS worker_id
FROM query_table(partials)
GROUP BY task_id;
