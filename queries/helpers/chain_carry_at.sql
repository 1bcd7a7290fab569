-- chain_carry_at: the partials (columns of task_partials_of) of the tasks the link
-- chain_head_at(instant) carries (a table macro: FROM chain_carry_at(TIMESTAMPTZ '…')): not
-- settled at the end of its hour (pending, running, or ended within the allowed lateness).
-- Reads one file: chain/carry/date=…/hour=…/<link name> (glob in the variable
-- tasqlake_chain_carry_glob, pruned to the link's partition while the query runs).
-- Grain: one row per carried task.
CREATE OR REPLACE MACRO chain_carry_at(instant) AS TABLE
WITH part_rows AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_carry_glob'))
    UNION ALL BY NAME
    SELECT
        *, CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    FROM task_partials_of('stored_events')
    WHERE false
)
SELECT * FROM link_rows_at('part_rows', instant);
