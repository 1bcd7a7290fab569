-- partition_closed: whether an hour partition ended at or before the hour of log_horizon()
-- began (a macro: partition_closed("date", "hour")): every event stamped in it is <= T, and no
-- event stamped <= T can land in a later one. Partitions are UTC hours, so T is compared as UTC
-- wall-clock time (timezone('UTC', …)), never in the session's TimeZone (a client in
-- America/New_York would otherwise skip the wrong hours). Comparisons of the Hive columns only,
-- so DuckDB evaluates it per file and skips files before reading them. With no as_of (horizon
-- +infinity) every partition is closed. See also partition_at_horizon.
-- Grain: one scalar.
CREATE OR REPLACE MACRO partition_closed(partition_date, partition_hour) AS
    partition_closed_at(partition_date, partition_hour, log_horizon());
