-- chain_stored_deltas: the per-minute depth deltas (columns of depth_deltas_of, 1-minute
-- buckets) the snapshot chain stored for every hour up to chain_head: the deltas part of each
-- valid link at or before it (chain/deltas/…, glob in tasqlake_chain_deltas_glob). Summed from
-- the chain's first hour they give each queue's pending and running counts at any minute up to
-- the head's hour_end, which queue_depth_series continues with the rows after it.
-- Grain: one row per (queue, minute) with a transition or an event, per linked hour.
CREATE OR REPLACE VIEW chain_stored_deltas AS
WITH part_rows AS (
    SELECT * FROM read_partitions(getvariable('tasqlake_chain_deltas_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS VARCHAR) AS queue, CAST(NULL AS TIMESTAMPTZ) AS bucket_start,
        CAST(NULL AS BIGINT) AS pending_delta, CAST(NULL AS BIGINT) AS running_delta,
        CAST(NULL AS BIGINT) AS events, CAST(NULL AS BIGINT) AS enqueued,
        CAST(NULL AS BIGINT) AS started, CAST(NULL AS BIGINT) AS completed,
        CAST(NULL AS BIGINT) AS failed, CAST(NULL AS BIGINT) AS retried,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS BOOLEAN) AS "empty", CAST(NULL AS VARCHAR) AS filename
    WHERE false
)
SELECT * EXCLUDE (link_hour_end) FROM chain_link_rows('part_rows');
