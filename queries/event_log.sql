-- event_log: the stored rows the views replay: stamped at or before log_horizon() (as of T).
-- Duplicates are NOT removed here (that costs a hash over every event_id): views built on it
-- use only duplicate-insensitive aggregates (min, max, arg_max, bool_or, count(DISTINCT …)).
-- The filter on the Hive columns date/hour lets DuckDB skip partitions after T. Partitions are
-- UTC hours, so T is compared as UTC wall-clock time (timezone('UTC', …)), never in the
-- session's TimeZone (a client in America/New_York would otherwise skip the wrong hours).
-- Grain: one row per stored row with timestamp <= T.
CREATE OR REPLACE VIEW event_log AS
SELECT *
FROM stored_events
WHERE "timestamp" <= log_horizon()
  AND ("date" < CAST(timezone('UTC', log_horizon()) AS DATE)
       OR ("date" = CAST(timezone('UTC', log_horizon()) AS DATE)
           AND "hour" <= hour(timezone('UTC', log_horizon()))));
