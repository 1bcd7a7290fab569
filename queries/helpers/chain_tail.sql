-- chain_tail: the rows of event_log after chain_head's hour (every row when there is no
-- head): what the views replay on top of the chain. The lake is partitioned by event time, so
-- these are the rows of the later partitions, stamped at or after the head's hour_end; the
-- filters on date and hour (chain_head.tail_from_hour) prune the files of earlier partitions
-- while the query runs, the one on timestamp decides.
-- Grain: one row per stored row stamped after chain_head's hour and at or before T.
CREATE OR REPLACE VIEW chain_tail AS
WITH head AS MATERIALIZED (  -- looked up once
    SELECT "date", tail_from_hour, hour_end FROM chain_head
)
SELECT *
FROM event_log
WHERE "date" >= coalesce((SELECT "date" FROM head), CAST('-infinity' AS DATE))
  AND "hour" >= coalesce((SELECT tail_from_hour FROM head), 0)
  AND "timestamp" >= coalesce((SELECT hour_end FROM head), CAST('-infinity' AS TIMESTAMPTZ));
