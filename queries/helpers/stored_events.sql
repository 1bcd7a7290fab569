-- stored_events: every row stored in the lake's Parquet files, duplicates included.
-- Reads LAKE/events/date=YYYY-MM-DD/hour=HH/*.parquet (glob in the variable
-- tasqlake_events_glob, set by queries.connect). The glob is expanded each time a query binds,
-- so files committed after connecting are seen by the next query; an empty lake gives no rows
-- (the typed empty branch keeps every column present). `date` and `hour` come from the path
-- (Hive partitioning) and let time-bounded filters skip whole partitions; so does a filter on
-- source_file (unsnapshotted_log skips the files a task snapshot covers by their name).
-- Grain: one row per stored row (the same event may be stored more than once).
-- Columns:
--   event_id        64-bit content hash of the raw payload: equal payloads, equal ids
--   event_type      wire event type (task_enqueued, worker_heartbeat, …; unknown ones kept)
--   timestamp       event time as stamped by the publisher (UTC)
--   date            partition date (UTC) from the path
--   hour            partition hour (0-23, UTC) from the path
--   source_file     the Parquet file holding the row (changes when compaction merges files)
CREATE OR REPLACE VIEW stored_events AS
SELECT
    event_id, event_type, "timestamp", task_id, task_name, queue, worker_id, attempt,
    duration_ms, result, error, traceback, hostname, freq, active, processed, queues,
    sw_ident, sw_ver, uptime_seconds, extra, received_at, channel, ingester_id,
    "date", "hour", filename AS source_file
FROM (
    SELECT * FROM read_partitions(getvariable('tasqlake_events_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS BIGINT) AS event_id, CAST(NULL AS VARCHAR) AS event_type,
        CAST(NULL AS TIMESTAMPTZ) AS "timestamp", CAST(NULL AS VARCHAR) AS task_id,
        CAST(NULL AS VARCHAR) AS task_name, CAST(NULL AS VARCHAR) AS queue,
        CAST(NULL AS VARCHAR) AS worker_id, CAST(NULL AS INTEGER) AS attempt,
        CAST(NULL AS BIGINT) AS duration_ms, CAST(NULL AS VARCHAR) AS result,
        CAST(NULL AS VARCHAR) AS error, CAST(NULL AS VARCHAR) AS traceback,
        CAST(NULL AS VARCHAR) AS hostname, CAST(NULL AS DOUBLE) AS freq,
        CAST(NULL AS INTEGER) AS active, CAST(NULL AS BIGINT) AS processed,
        CAST(NULL AS VARCHAR[]) AS queues, CAST(NULL AS VARCHAR) AS sw_ident,
        CAST(NULL AS VARCHAR) AS sw_ver, CAST(NULL AS BIGINT) AS uptime_seconds,
        CAST(NULL AS VARCHAR) AS extra, CAST(NULL AS TIMESTAMPTZ) AS received_at,
        CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS ingester_id,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour",
        CAST(NULL AS VARCHAR) AS filename
    WHERE false
);
