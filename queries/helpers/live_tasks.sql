-- live_tasks: every task not settled at chain_head, as of T, merged (the columns of
-- merge_task_partials): exactly task_state's row of each such task. They are the head link's
-- carry (already one merged row per task) and the tasks of the rows after it (chain_tail).
-- Only the carried tasks the tail touches are merged again; the others are taken as they are
-- (merging one row gives that row), so the cost follows the tail, not the carry. The settled
-- tasks are in chain_folded's counters instead (a task of the tail that had settled, an event
-- later than the allowed lateness, is counted twice until the next compaction finds it: see
-- late_events).
-- Grain: one row per task not settled at chain_head with a task event stamped <= T.
CREATE OR REPLACE VIEW live_tasks AS
WITH tail AS MATERIALIZED (  -- the tail's tasks, computed once
    SELECT * FROM task_partials_of('chain_tail')
),
touched AS (  -- carried tasks with rows in the tail, and the tail's partials
    SELECT * FROM chain_carry SEMI JOIN tail USING (task_id)
    UNION ALL BY NAME
    SELECT * FROM tail
)
SELECT  -- the columns of merge_task_partials, in its order
    task_id, task_name, queue, top_key, progress, waiting_since, latest_start_at,
    completed_duration, first_seen_at, enqueued_at, first_started_at, last_error,
    last_traceback, worker_id
FROM chain_carry ANTI JOIN tail USING (task_id)
UNION ALL BY NAME
SELECT * FROM merge_task_partials('touched');
