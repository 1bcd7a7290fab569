-- task_partials_of: the per-task partial aggregates of the stored events in a relation (a
-- table macro: FROM task_partials_of('relation'), the relation a table or view with the stored
-- event columns). Stored by compaction as the task snapshot of a partition (see
-- lake/layout.py) and computed on the fly by task_state over the events no snapshot
-- covers. Every aggregate is a min, a max, or an arg_max stored next to the key that decides it,
-- so rows of one task from several relations merge exactly into what one pass over all its
-- events gives (merge_task_partials), duplicates included. Keys: see progress_key, causal_key.
-- Grain: one row per task_id with a task event in the relation.
-- Columns:
--   task_id             the task
--   task_name           least task_name of its events
--   queue               least queue of its events
--   top_key             greatest causal_key (decides the state)
--   progress            greatest progress_key
--   waiting_key         greatest progress_key of its task_enqueued/task_reenqueued events
--   waiting_since       timestamp of that (re)enqueue
--   start_key           greatest progress_key of its task_started events
--   latest_start_at     timestamp of that start
--   completed_duration  largest duration_ms of its task_completed events
--   first_seen_at       earliest timestamp
--   enqueued_at         earliest task_enqueued timestamp
--   first_started_at    earliest task_started timestamp
--   error_key           greatest progress_key of its task_failed/task_reenqueued events
--   last_error          error of that event
--   last_traceback      traceback of that event
--   worker_key          greatest causal_key of its non-enqueue events that name a worker
--   worker_id           worker of that event
CREATE OR REPLACE MACRO task_partials_of(events) AS TABLE
WITH keyed AS (
    SELECT
        task_id, task_name, queue, worker_id, event_type, "timestamp", duration_ms, error,
        traceback,
        causal_key(event_type, attempt, "timestamp") AS causal_key,
        progress_key(event_type, attempt) AS progress_key
    FROM query_table(events)
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_enqueued', 'task_started', 'task_completed', 'task_failed',
                         'task_reenqueued', 'task_cancelled')
)
SELECT
    task_id,
    min(task_name) AS task_name,
    min(queue) AS queue,
    max(causal_key) AS top_key,
    max(progress_key) AS progress,
    max(progress_key) FILTER (WHERE event_type IN ('task_enqueued', 'task_reenqueued'))
        AS waiting_key,
    arg_max("timestamp", progress_key)
        FILTER (WHERE event_type IN ('task_enqueued', 'task_reenqueued')) AS waiting_since,
    max(progress_key) FILTER (WHERE event_type = 'task_started') AS start_key,
    arg_max("timestamp", progress_key) FILTER (WHERE event_type = 'task_started')
        AS latest_start_at,
    max(duration_ms) FILTER (WHERE event_type = 'task_completed') AS completed_duration,
    min("timestamp") AS first_seen_at,
    min("timestamp") FILTER (WHERE event_type = 'task_enqueued') AS enqueued_at,
    min("timestamp") FILTER (WHERE event_type = 'task_started') AS first_started_at,
    max(progress_key) FILTER (WHERE event_type IN ('task_failed', 'task_reenqueued'))
        AS error_key,
    arg_max_null(error, progress_key)
        FILTER (WHERE event_type IN ('task_failed', 'task_reenqueued')) AS last_error,
    arg_max_null(traceback, progress_key)
        FILTER (WHERE event_type IN ('task_failed', 'task_reenqueued')) AS last_traceback,
    max(causal_key) FILTER (WHERE event_type <> 'task_enqueued' AND worker_id IS NOT NULL)
        AS worker_key,
    arg_max(worker_id, causal_key) FILTER (WHERE event_type <> 'task_enqueued') AS worker_id
FROM keyed
GROUP BY task_id;
