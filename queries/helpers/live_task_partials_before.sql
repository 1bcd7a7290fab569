-- live_task_partials_before: the partials (columns of task_partials_of) of every task not
-- settled at the snapshot chain link before an instant, merged up to the instant (a table
-- macro: FROM live_task_partials_before(TIMESTAMPTZ '…')): the carry of chain_head_at(instant)
-- plus the partials of the task events stamped from its hour's end to before the instant (and
-- <= T). Merged, they give each such task's state entering the instant; the tasks left out
-- settled before the link, terminal for good (under the lateness bound), so they are neither
-- pending nor running then or later: a series that starts at the instant (queue_depth_series'
-- since) needs no more. No link: every row before the instant. NULL instant: no rows.
-- Grain: one row per task per carry row or per the rows that hold its events before the
-- instant.
CREATE OR REPLACE MACRO live_task_partials_before(instant) AS TABLE
WITH head AS MATERIALIZED (  -- looked up once
    SELECT "date", tail_from_hour, hour_end FROM chain_head_at(instant)
),
rows_before AS (
    SELECT *
    FROM event_log
    WHERE "timestamp" < instant
      AND (partition_closed_at("date", "hour", instant) OR partition_holds("date", "hour", instant))
      AND "date" >= coalesce((SELECT "date" FROM head), CAST('-infinity' AS DATE))
      AND "hour" >= coalesce((SELECT tail_from_hour FROM head), 0)
      AND "timestamp" >= coalesce((SELECT hour_end FROM head), CAST('-infinity' AS TIMESTAMPTZ))
)
SELECT * FROM chain_carry_at(instant)
UNION ALL BY NAME
SELECT * FROM task_partials_of('rows_before');
