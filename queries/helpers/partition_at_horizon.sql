-- partition_at_horizon: whether an hour partition is the UTC hour holding log_horizon() (a
-- macro: partition_at_horizon("date", "hour")): its events are <= T only in part. Comparisons of
-- the Hive columns only, so DuckDB skips files with it (see partition_closed).
-- Grain: one scalar.
CREATE OR REPLACE MACRO partition_at_horizon(partition_date, partition_hour) AS
    partition_holds(partition_date, partition_hour, log_horizon());
