-- merge_task_partials: the rows of task partials (columns of task_partials_of) merged into one
-- row per task, exactly what one aggregate pass over all the task's events gives (a table
-- macro: FROM merge_task_partials('relation'[, terminal_details := false])): the values of
-- combine_task_partials (the merge rule: min and max of their columns, each arg_max by the key
-- stored next to it; duplicate rows change nothing) without the keys.
-- task_state merges every column; a query that reads only some of them gets the others dropped
-- by DuckDB. With terminal_details := false, waiting_since, latest_start_at and worker_id are
-- merged for tasks that are not terminal only (NULL for the others): those tasks have no
-- terminal row, so the rows of settled partials (most of history) are skipped (queue_stats).
-- Grain: one row per task_id in the relation.
-- Columns:
--   task_id             the task
--   task_name           least task_name of its events
--   queue               least queue of its events
--   top_key             greatest causal_key (decides the state, see causal_state)
--   progress            greatest progress_key (see task_attempts_begun, task_retries)
--   waiting_since       timestamp of the (re)enqueue with the greatest progress_key
--   latest_start_at     timestamp of the start with the greatest progress_key
--   completed_duration  largest duration_ms of its task_completed events
--   first_seen_at       earliest timestamp
--   enqueued_at         earliest task_enqueued timestamp
--   first_started_at    earliest task_started timestamp
--   last_error          error of the failed or reenqueued event with the greatest progress_key
--   last_traceback      traceback of that event
--   worker_id           worker of the causally latest non-enqueue event (ties: arbitrary)
CREATE OR REPLACE MACRO merge_task_partials(partials, terminal_details := true) AS TABLE
SELECT
    task_id, task_name, queue, top_key, progress, waiting_since, latest_start_at,
    completed_duration, first_seen_at, enqueued_at, first_started_at, last_error,
    last_traceback, worker_id
FROM combine_task_partials(partials, terminal_details := terminal_details);
