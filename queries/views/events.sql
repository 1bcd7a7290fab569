-- events: every stored event exactly once (duplicates by event_id removed), as of T.
-- The same published message always gets the same event_id, so a message stored twice (an
-- ingester restart replaying its WAL, two ingesters, an import of a capture) appears once: the
-- copy received first is kept (ties: the smaller ingester_id).
-- Equal event_id means identical payload bytes, hence the same timestamp and so the same
-- date/hour partition (partitions are the event time's UTC hour): the window partitions by
-- date, hour and timestamp too, which changes nothing in the result but lets DuckDB push a
-- filter on date/hour/timestamp below the dedup, so a time-bounded query on events reads only
-- the partitions it needs.
-- Grain: one row per event (event_id) with timestamp <= T.
-- Columns:
--   event_id        64-bit content hash of the raw payload
--   received_at     when the first copy was read by an ingester (UTC)
CREATE OR REPLACE VIEW events AS
SELECT *
FROM event_log
QUALIFY row_number() OVER (
    PARTITION BY "date", "hour", "timestamp", event_id
    ORDER BY received_at, ingester_id, channel
) = 1;
