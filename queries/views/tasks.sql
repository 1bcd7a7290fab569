-- tasks: every task as of T, its state and timings (state rules: task_state, causal_key).
-- Grain: one row per task_id seen in a task event stamped <= T.
-- Columns:
--   state             pending | running | completed | failed | cancelled
--   attempts          attempts begun (0 while never started)
--   retries           reenqueues of the task
--   enqueued_at       earliest task_enqueued (NULL when that event is missing)
--   first_started_at  earliest task_started
--   finished_at       the terminal event's timestamp
--   wait_ms           enqueue -> first start (clock skew can't make it negative: floored at 0)
--   run_ms            sum of the durations of its ended attempts (task_attempts.duration_ms)
--   total_ms          enqueue -> finish (floored at 0)
--   last_error        error of the latest failed or reenqueued attempt
--   error_class       error_class(last_error, its traceback)
--   worker_id         worker of the causally latest attempt event
--   orphaned          running on a worker session that was lost
CREATE OR REPLACE VIEW tasks AS
WITH runs AS (
    SELECT task_id, CAST(sum(duration_ms) AS BIGINT) AS run_ms
    FROM task_attempts
    GROUP BY task_id
)
SELECT
    t.task_id,
    t.task_name,
    t.queue,
    t.state,
    t.attempts,
    t.retries,
    t.enqueued_at,
    t.first_started_at,
    t.finished_at,
    elapsed_ms(t.enqueued_at, t.first_started_at) AS wait_ms,
    r.run_ms,
    elapsed_ms(t.enqueued_at, t.finished_at) AS total_ms,
    t.last_error,
    error_class(t.last_error, t.last_traceback) AS error_class,
    t.worker_id,
    coalesce(s.end_reason = 'lost', false) AS orphaned
FROM task_state AS t
LEFT JOIN runs AS r USING (task_id)
LEFT JOIN worker_session_spans AS s
  ON s.worker_id = t.worker_id
 AND t.state = 'running'
 AND t.last_started_at >= s.covers_from
 AND t.last_started_at < s.covers_until;
