-- worker_sessions: every run of every worker as of T, how it ended, and the work done in it.
-- Session rules (worker_session_spans): a session runs from worker_online (or the worker's first
-- event, or the first event after a worker_offline) to worker_offline; without an offline it
-- is lost (crashed, killed) when a new session of the same worker began, or when its last
-- heartbeat is more than 3 x freq older than T — it then ended at that last heartbeat.
-- Task events are attributed to the session of their worker_id whose span covers their
-- timestamp.
-- Grain: one row per worker_id and session_no.
-- Columns:
--   session_no      1, 2, … per worker in time order
--   queues          queues from the latest online/heartbeat (worker_offline always says [])
--   started_at      worker_online (or the first event of the session)
--   ended_at        worker_offline, or the last heartbeat of a lost session; NULL if running
--   end_reason      offline | lost | running
--   uptime_s        started_at -> ended_at (running: -> T), seconds
--   heartbeats      worker_heartbeat events in the session
--   tasks_started   task_started events by the worker in the session (attempts begun)
--   tasks_finished  attempts it ended: task_completed, task_failed or task_reenqueued events
--   orphaned_tasks  tasks still running on it although the session was lost
CREATE OR REPLACE VIEW worker_sessions AS
WITH task_work AS (
    SELECT
        s.worker_id,
        s.session_no,
        count(DISTINCT e.event_id) FILTER (WHERE e.event_type = 'task_started') AS tasks_started,
        count(DISTINCT e.event_id) FILTER (WHERE e.event_type <> 'task_started') AS tasks_finished
    FROM event_log AS e
    JOIN worker_session_spans AS s
      ON e.worker_id = s.worker_id
     AND e."timestamp" >= s.covers_from
     AND e."timestamp" < s.covers_until
    WHERE e.task_id IS NOT NULL
      AND e.event_type IN ('task_started', 'task_completed', 'task_failed', 'task_reenqueued')
    GROUP BY s.worker_id, s.session_no
),
orphans AS (
    SELECT worker_id, session_no, count(*) AS orphaned_tasks
    FROM orphaned_tasks
    GROUP BY worker_id, session_no
)
SELECT
    s.worker_id,
    s.session_no,
    s.hostname,
    s.queues,
    s.started_at,
    s.ended_at,
    s.end_reason,
    s.uptime_s,
    s.heartbeats,
    coalesce(w.tasks_started, 0) AS tasks_started,
    coalesce(w.tasks_finished, 0) AS tasks_finished,
    coalesce(o.orphaned_tasks, 0) AS orphaned_tasks,
    s.last_heartbeat,
    s.freq
FROM worker_session_spans AS s
LEFT JOIN task_work AS w USING (worker_id, session_no)
LEFT JOIN orphans AS o USING (worker_id, session_no)
ORDER BY s.worker_id, s.session_no;
