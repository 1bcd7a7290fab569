-- worker_stats: each worker as of T, with the fields of AsyncTasQ's WorkerInfo (the Redis driver
-- of 1.7 returns none; these come from the log). Running tasks are counted from task events, not
-- from heartbeat `active` (unreliable in 1.7).
-- Task counts come from the snapshot chain's folded counters plus the tasks not settled, the
-- sessions from worker_session_spans (the chain's sessions plus the events after them).
-- Grain: one row per worker_id seen in a worker event stamped <= T (its latest session).
-- Columns:
--   status            offline (worker_offline) | lost (no heartbeat for 3 x freq) | active (runs
--                     tasks) | idle
--   current_task_id   the most recently started task running on the worker, if any
--   tasks_processed   tasks completed or failed for good whose last attempt ran on the worker
--   uptime_seconds    length of the latest session up to T (or its end), whole seconds
--   last_heartbeat    latest worker_online/worker_heartbeat of that session
--   load_percentage   100 x running tasks / concurrency, concurrency estimated as the largest of
--                     running tasks and the highest heartbeat `active` of the session (the
--                     configured concurrency is not in the events); 0 when not running anything,
--                     and 0 for an offline or lost worker (its orphaned tasks load nothing)
--   running_tasks     tasks running on the worker in its latest session (orphans of a lost one)
CREATE OR REPLACE VIEW worker_stats AS
WITH latest AS (
    SELECT * FROM worker_session_spans WHERE is_latest
),
live AS MATERIALIZED (  -- the tasks not settled at chain_head, as of T
    SELECT * FROM live_tasks
),
running AS (
    SELECT
        t.worker_id,
        count(*) FILTER (WHERE t.last_started_at >= l.covers_from) AS running_tasks,
        arg_max(t.task_id, t.last_started_at) FILTER (WHERE t.last_started_at >= l.covers_from)
            AS current_task_id
    FROM (
        SELECT task_id, worker_id,
               CASE WHEN is_start_key(progress) THEN latest_start_at END AS last_started_at
        FROM live
        WHERE causal_state(top_key) = 'running'
    ) AS t
    JOIN latest AS l ON l.worker_id = t.worker_id
    GROUP BY t.worker_id
),
processed AS (  -- settled (chain_folded) and not settled (live) tasks that ended
    SELECT worker_id, CAST(sum(completed + failed) AS BIGINT) AS tasks_processed
    FROM (
        SELECT worker_id, completed, failed FROM chain_folded
        UNION ALL
        SELECT worker_id, completed, failed FROM task_counters_of('live')
    )
    WHERE worker_id IS NOT NULL
    GROUP BY worker_id
),
task_work AS (
    SELECT
        l.worker_id,
        p.tasks_processed,
        r.running_tasks,
        r.current_task_id
    FROM latest AS l
    LEFT JOIN processed AS p USING (worker_id)
    LEFT JOIN running AS r USING (worker_id)
)
SELECT
    l.worker_id,
    CASE
        WHEN l.end_reason = 'offline' THEN 'offline'
        WHEN l.end_reason = 'lost' THEN 'lost'
        WHEN coalesce(w.running_tasks, 0) > 0 THEN 'active'
        ELSE 'idle'
    END AS status,
    w.current_task_id,
    coalesce(w.tasks_processed, 0) AS tasks_processed,
    CAST(floor(l.uptime_s) AS BIGINT) AS uptime_seconds,
    l.last_heartbeat,
    CASE
        WHEN l.end_reason <> 'running' OR coalesce(w.running_tasks, 0) = 0 THEN CAST(0 AS DOUBLE)
        ELSE 100.0 * w.running_tasks / greatest(w.running_tasks, coalesce(l.max_active, 0))
    END AS load_percentage,
    coalesce(w.running_tasks, 0) AS running_tasks,
    l.hostname,
    l.queues,
    l.session_no AS sessions,
    l.started_at,
    l.last_seen_at
FROM latest AS l
LEFT JOIN task_work AS w USING (worker_id);
