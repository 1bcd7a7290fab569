-- events: every stored event exactly once (duplicates by event_id removed), as of T.
-- The same published message always gets the same event_id, so a message stored twice (an
-- ingester restart replaying its WAL, two ingesters, an import of a capture) appears once: the
-- copy received first is kept (ties: the smaller ingester_id).
-- Grain: one row per event (event_id) with timestamp <= T.
-- Columns:
--   event_id        64-bit content hash of the raw payload
--   received_at     when the first copy was read by an ingester (UTC)
CREATE OR REPLACE VIEW events AS
SELECT *
FROM event_log
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at, ingester_id, channel) = 1;
