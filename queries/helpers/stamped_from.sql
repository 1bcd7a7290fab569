-- stamped_from: whether a stored row is stamped at or after `instant`, on its Hive columns too
-- (a macro: stamped_from("timestamp", "date", "hour", instant)), so that DuckDB skips the files
-- of the hour partitions that ended before the instant's hour without reading them. A NULL
-- instant keeps every row (a window without a start). The start of the series' windows.
-- Grain: one scalar.
CREATE OR REPLACE MACRO stamped_from(ts, partition_date, partition_hour, instant) AS
    instant IS NULL
    OR (ts >= instant AND NOT partition_closed_at(partition_date, partition_hour, instant));
