-- chain_folded: the counters (columns of task_counters_of) of every task settled at
-- chain_head: ended more than the allowed lateness before the end of its hour. Reads one file:
-- chain/folded/date=…/hour=…/<chain_head.name> (glob in tasqlake_chain_folded_glob).
-- Grain: one row per (queue, task_name, worker_id) of the settled tasks.
CREATE OR REPLACE VIEW chain_folded AS
WITH part_rows AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_folded_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS VARCHAR) AS queue, CAST(NULL AS VARCHAR) AS task_name,
        CAST(NULL AS VARCHAR) AS worker_id, CAST(NULL AS BIGINT) AS tasks,
        CAST(NULL AS BIGINT) AS pending, CAST(NULL AS BIGINT) AS running,
        CAST(NULL AS BIGINT) AS completed, CAST(NULL AS BIGINT) AS failed,
        CAST(NULL AS BIGINT) AS cancelled, CAST(NULL AS BIGINT) AS attempts,
        CAST(NULL AS BIGINT) AS retries, CAST(NULL AS BIGINT) AS tasks_retried,
        CAST(NULL AS BIGINT) AS retried_then_completed, CAST(NULL AS BIGINT) AS duration_sum,
        CAST(NULL AS BIGINT) AS duration_count,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    WHERE false
)
SELECT * FROM link_rows_at('part_rows', log_horizon());
