-- chain_summary: the head of chain_head's link (chain/links/…/<chain_head.name>): what the
-- link holds, in one row. Reads one file (glob in tasqlake_chain_links_glob).
-- Grain: at most one row.
-- Columns:
--   hour_end            the instant the link holds the state at
--   generation          compaction generation of the hour's events it was built from
--   previous            the name of the link it was built from (NULL for the first)
--   allowed_lateness_s  the lateness bound it settled tasks with (seconds)
--   carried             tasks it carries (not settled)
--   settled             tasks it settled
--   late_events         late events it found (late_events)
--   late_events_total   late events found by it and every link before it
CREATE OR REPLACE VIEW chain_summary AS
WITH part_rows AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_links_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS TIMESTAMPTZ) AS hour_end, CAST(NULL AS INTEGER) AS generation,
        CAST(NULL AS VARCHAR) AS previous, CAST(NULL AS DOUBLE) AS allowed_lateness_s,
        CAST(NULL AS BIGINT) AS carried, CAST(NULL AS BIGINT) AS settled,
        CAST(NULL AS BIGINT) AS late_events, CAST(NULL AS BIGINT) AS late_events_total,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    WHERE false
)
SELECT * FROM link_rows_at('part_rows', log_horizon());
