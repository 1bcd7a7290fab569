-- queue_depth: queue_depth_series with 1-minute buckets (see queue_depth_series for the rules).
-- Grain: one row per queue and minute, from the first task event's minute to the last one's.
CREATE OR REPLACE VIEW queue_depth AS
SELECT * FROM queue_depth_series(INTERVAL 1 MINUTE);
