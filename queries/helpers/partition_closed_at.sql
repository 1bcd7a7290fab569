-- partition_closed_at: whether an hour partition ended at or before the hour of `instant` began
-- (a macro: partition_closed_at("date", "hour", instant)): every event stamped in it is before
-- that hour, and no event stamped at or after it can be in it. Partitions are UTC hours, so the
-- instant is compared as UTC wall-clock time (timezone('UTC', …)), never in the session's
-- TimeZone. Comparisons of the Hive columns only, so DuckDB evaluates it per file and skips
-- files before reading them. +infinity closes every partition. partition_closed is this at T.
-- Grain: one scalar.
CREATE OR REPLACE MACRO partition_closed_at(partition_date, partition_hour, instant) AS
    partition_date < CAST(timezone('UTC', instant) AS DATE)
    OR (partition_date = CAST(timezone('UTC', instant) AS DATE)
        AND partition_hour < hour(timezone('UTC', instant)));
