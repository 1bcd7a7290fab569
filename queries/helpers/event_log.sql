-- event_log: the stored rows the views replay: stamped at or before log_horizon() (as of T).
-- Duplicates are NOT removed here (that costs a hash over every event_id): views built on it
-- use only duplicate-insensitive aggregates (min, max, arg_max, bool_or, count(DISTINCT …)).
-- The filter on the Hive columns date/hour lets DuckDB skip partitions after T (see
-- partition_closed: UTC hours, whatever the session's TimeZone).
-- Grain: one row per stored row with timestamp <= T.
CREATE OR REPLACE VIEW event_log AS
SELECT * EXCLUDE (source_file)
FROM stored_events
WHERE "timestamp" <= log_horizon()
  AND (partition_closed("date", "hour") OR partition_at_horizon("date", "hour"));
