-- task_state: the lifecycle state of each task as of T, from ONE aggregate pass over its events.
-- Building block of tasks, queue_stats, global_stats, worker_stats: no window function, no
-- join, and every aggregate is duplicate-insensitive (max, min, arg_max), so it reads
-- event_log directly; DuckDB drops the aggregates a query does not use. The pass is split:
-- the per-task partials (task_partials) of the partitions closed at T come from the task
-- snapshots compaction stored, those of every other event row are computed now, and the two
-- merge exactly into the one-pass result (merge_task_partials).
-- Causality, not timestamps, decides the state: the greatest causal_key of the task's events
-- (see causal_key.sql) gives completed | failed | cancelled (terminal events win, the earliest
-- stamped among them), running (a start of the latest attempt) or pending (an enqueue or a
-- reenqueue not followed by a start). Missing events are tolerated: a start without enqueue is
-- running, a completion without start is completed.
-- The progress key (see progress_key) locates the task's latest attempt (see
-- task_attempts_begun, task_retries).
-- Grain: one row per task_id seen in a task event stamped <= T.
-- Columns:
--   state             pending | running | completed | failed | cancelled
--   attempts          attempts begun (implied by causality: 0 while never started)
--   retries           reenqueues (retries) of the task
--   first_seen_at     the task's earliest stamped event
--   enqueued_at       earliest task_enqueued
--   first_started_at  earliest task_started
--   last_started_at   start of the latest attempt (running tasks)
--   pending_since     for pending tasks: the (re)enqueue that made it pending
--   finished_at       timestamp of the deciding terminal event
--   completed_duration_ms  duration_ms of task_completed (completed tasks; the largest if
--                     several distinct completions were stored)
--   last_error        error of the latest failed or reenqueued attempt
--   last_traceback    traceback of that event (task_failed only)
--   worker_id         worker of the causally latest non-enqueue event (ties: arbitrary)
CREATE OR REPLACE VIEW task_state AS
WITH per_task AS (
    SELECT * FROM merge_task_partials('task_partials')
)
SELECT
    task_id,
    task_name,
    queue,
    causal_state(top_key) AS state,
    task_attempts_begun(top_key, progress) AS attempts,
    task_retries(top_key, progress) AS retries,
    first_seen_at,
    enqueued_at,
    first_started_at,
    CASE WHEN is_start_key(progress) THEN latest_start_at END AS last_started_at,
    CASE WHEN causal_state(top_key) = 'pending' THEN waiting_since END AS pending_since,
    causal_finished_at(top_key) AS finished_at,
    CASE WHEN causal_state(top_key) = 'completed' THEN completed_duration END
        AS completed_duration_ms,
    last_error,
    last_traceback,
    worker_id
FROM per_task;
