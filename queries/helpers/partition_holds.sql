-- partition_holds: whether an hour partition is the UTC hour holding `instant` (a macro:
-- partition_holds("date", "hour", instant)): of its events, only some are before the instant.
-- Comparisons of the Hive columns only, so DuckDB skips files with it (see
-- partition_closed_at). partition_at_horizon is this at T.
-- Grain: one scalar.
CREATE OR REPLACE MACRO partition_holds(partition_date, partition_hour, instant) AS
    partition_date = CAST(timezone('UTC', instant) AS DATE)
    AND partition_hour = hour(timezone('UTC', instant));
