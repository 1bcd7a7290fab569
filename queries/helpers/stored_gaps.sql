-- stored_gaps: every gap record in the lake: a window in which ONE ingester (or one consumer
-- group of a Redis Stream) may have missed events.
-- Reads LAKE/gaps/date=YYYY-MM-DD/hour=HH/*.parquet (partitioned by gap_start, UTC; glob in the
-- variable tasqlake_gaps_glob, set by queries.connect, written in by queries.ddl). Like
-- stored_events, the glob is expanded at each query and an empty or missing gaps/ gives no rows
-- (the typed empty branch keeps every column present).
-- When they are written (ingest/receiving/receiver.py, ingest/service/ingest_service.py): a
-- record is appended to the ingester's WAL only when its subscription is confirmed again (then committed like events):
--   * start-up: every process start, from this WAL directory's last known subscribed instant
--     (state.json: last bytes read, periodic mark, graceful stop) — or, for a fresh ingester
--     (no state yet), from the process start — to the confirmation of its first SUBSCRIBE;
--   * disconnected / no reply to health check: from the last bytes read before the loss to the
--     confirmation of the resubscription.
-- So a window that is still open (an ingester down right now, or stopped and never restarted)
-- has no record yet: it appears when that ingester subscribes again.
-- An ingester reading a Redis Stream (ingest --stream) misses nothing while it is down (the
-- stream keeps the entries); its records are its consumer group's, under the id
-- <stream>@<group>: a zero-length 'start-up' record when the group is created, and a window
-- with lost_events when entries were trimmed (MAXLEN) before the group read them, or an
-- unknown count when the stream was deleted or recreated.
-- Grain: one row per stored gap record (a record replayed from the WAL keeps its file name, so
-- it is stored once).
-- Columns:
--   ingester_id  the ingester (the id kept in its WAL directory), or <stream>@<group>
--   gap_start    the last instant it knew it was subscribed (a fresh ingester: its start)
--   gap_end      when its subscription was confirmed (again)
--   reason       start-up | disconnected: <error> | no reply to health check
--   channels     the channels it subscribes (the stream, for a consumer group)
--   lost_events  events known to be lost in the window (a trimmed stream), NULL if unknown
--   date         partition date of gap_start (UTC) from the path
--   hour         partition hour of gap_start (0-23, UTC) from the path
CREATE OR REPLACE VIEW stored_gaps AS
SELECT ingester_id, gap_start, gap_end, reason, channels, lost_events, "date", "hour"
FROM (
    SELECT * FROM read_partitions(getvariable('tasqlake_gaps_glob'))
    UNION ALL BY NAME
    SELECT
        CAST(NULL AS VARCHAR) AS ingester_id, CAST(NULL AS TIMESTAMPTZ) AS gap_start,
        CAST(NULL AS TIMESTAMPTZ) AS gap_end, CAST(NULL AS VARCHAR) AS reason,
        CAST(NULL AS VARCHAR[]) AS channels, CAST(NULL AS BIGINT) AS lost_events,
        CAST(NULL AS DATE) AS "date", CAST(NULL AS INTEGER) AS "hour"
    WHERE false
);
