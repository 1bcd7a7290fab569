-- chain_sessions: every worker session at the end of chain_head's hour, in the columns of
-- worker_sessions_after (the latest ones still open to their workers' next events). Reads one
-- file: chain/sessions/date=…/hour=…/<chain_head.name> (glob in tasqlake_chain_sessions_glob).
-- Grain: one row per (worker_id, session_no).
CREATE OR REPLACE VIEW chain_sessions AS
WITH part_rows AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_sessions_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS VARCHAR) AS worker_id, CAST(NULL AS BIGINT) AS session_no,
        CAST(NULL AS VARCHAR) AS hostname, CAST(NULL AS VARCHAR[]) AS queues,
        CAST(NULL AS TIMESTAMPTZ) AS started_at, CAST(NULL AS TIMESTAMPTZ) AS last_seen_at,
        CAST(NULL AS TIMESTAMPTZ) AS last_heartbeat, CAST(NULL AS TIMESTAMPTZ) AS offline_at,
        CAST(NULL AS DOUBLE) AS freq, CAST(NULL AS BIGINT) AS heartbeats,
        CAST(NULL AS INTEGER) AS max_active, CAST(NULL AS BIGINT) AS processed,
        CAST(NULL AS VARCHAR) AS last_event_type,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    WHERE false
)
SELECT * FROM link_rows_at('part_rows', log_horizon());
