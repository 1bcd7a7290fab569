-- orphaned_tasks: tasks running as of T on a worker session that was lost (crashed or killed:
-- no worker_offline, no heartbeat for 3 x freq, or replaced by a new session of the same worker).
-- Such a task never gets an end event; it still counts as running, and is flagged orphaned.
-- The session is the one of the task's worker whose span covers the task's latest start.
-- Grain: one row per orphaned task.
-- Columns:
--   session_no        the lost session of worker_id the task was running on
CREATE OR REPLACE VIEW orphaned_tasks AS
SELECT t.task_id, t.queue, t.task_name, t.worker_id, s.session_no, t.last_started_at
FROM task_state AS t
JOIN worker_session_spans AS s
  ON s.worker_id = t.worker_id
 AND t.last_started_at >= s.covers_from
 AND t.last_started_at < s.covers_until
WHERE t.state = 'running'
  AND s.end_reason = 'lost';
