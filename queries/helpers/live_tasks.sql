-- live_task_partials: the partials (columns of task_partials_of) of every task not settled at
-- chain_head, as of T: its carry plus the partials of the rows after it (chain_tail). Merged
-- (merge_task_partials), they give exactly task_state's row of each such task; the settled
-- tasks are in chain_folded's counters instead (a task of the tail that had settled, an event
-- later than the allowed lateness, is counted twice until the next compaction finds it: see
-- late_events).
-- Grain: one row per task per carry row or per the tail rows that hold its events.
CREATE OR REPLACE VIEW live_task_partials AS
SELECT * FROM chain_carry
UNION ALL BY NAME
SELECT * FROM task_partials_of('chain_tail');
