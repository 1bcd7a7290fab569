-- task_attempts: each attempt of each task as of T: when it ran, on which worker, how it ended.
-- An attempt's events are task_started and its end (task_completed | task_failed |
-- task_reenqueued) with the same attempt number; task_completed always says attempt 1 on the
-- wire, so it is assigned to the task's latest attempt (task_state.attempts). Duplicates are
-- harmless (earliest of each kind is kept).
-- outcome: the end event's kind (completed | failed | reenqueued); without one: reenqueued when a
-- later attempt exists (its end event was lost), orphaned when it is the running attempt of a
-- task whose worker was lost, running when it is the running attempt, else the task's state
-- (cancelled).
-- Grain: one row per task_id and attempt that has an event stamped <= T (an attempt whose
-- events were all lost has no row).
-- Columns:
--   started_at   earliest task_started of the attempt
--   ended_at     earliest end event of the attempt
--   outcome      completed | failed | reenqueued | running | orphaned | cancelled
--   duration_ms  duration_ms of the end event
--   worker_id    worker that started the attempt (else the one that ended it)
--   error        error of the end event
CREATE OR REPLACE VIEW task_attempts AS
WITH t AS MATERIALIZED (
    SELECT task_id, queue, task_name, state, attempts, worker_id, last_started_at
    FROM task_state
),
attempt_events AS (
    SELECT
        e.task_id,
        e.event_type,
        e."timestamp",
        e.worker_id,
        e.duration_ms,
        e.error,
        CASE WHEN e.event_type = 'task_completed' THEN greatest(t.attempts, 1) ELSE e.attempt END
            AS attempt
    FROM event_log AS e
    JOIN t USING (task_id)
    WHERE e.task_id IS NOT NULL
      AND e.event_type IN ('task_started', 'task_completed', 'task_failed', 'task_reenqueued')
),
per_attempt AS (
    SELECT
        task_id,
        attempt,
        min("timestamp") FILTER (WHERE event_type = 'task_started') AS started_at,
        arg_min(worker_id, "timestamp") FILTER (WHERE event_type = 'task_started') AS started_by,
        min("timestamp") FILTER (WHERE event_type <> 'task_started') AS ended_at,
        arg_min(event_type, "timestamp") FILTER (WHERE event_type <> 'task_started') AS end_type,
        arg_min_null(duration_ms, "timestamp") FILTER (WHERE event_type <> 'task_started')
            AS duration_ms,
        arg_min_null(error, "timestamp") FILTER (WHERE event_type <> 'task_started') AS error,
        arg_min(worker_id, "timestamp") FILTER (WHERE event_type <> 'task_started') AS ended_by
    FROM attempt_events
    GROUP BY task_id, attempt
)
SELECT
    p.task_id,
    p.attempt,
    t.queue,
    t.task_name,
    p.started_at,
    p.ended_at,
    CASE
        WHEN p.end_type = 'task_completed' THEN 'completed'
        WHEN p.end_type = 'task_failed' THEN 'failed'
        WHEN p.end_type = 'task_reenqueued' THEN 'reenqueued'
        WHEN p.attempt < t.attempts THEN 'reenqueued'
        WHEN t.state = 'running' AND s.end_reason = 'lost' THEN 'orphaned'
        ELSE t.state
    END AS outcome,
    p.duration_ms,
    coalesce(p.started_by, p.ended_by) AS worker_id,
    p.error
FROM per_attempt AS p
JOIN t USING (task_id)
LEFT JOIN worker_session_spans AS s
  ON s.worker_id = t.worker_id
 AND t.state = 'running'
 AND t.last_started_at >= s.covers_from
 AND t.last_started_at < s.covers_until;
