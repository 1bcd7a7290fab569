-- queue_depth_series: depth and activity of each queue over time (a table macro:
-- FROM queue_depth_series(INTERVAL 10 MINUTE), or a window of it:
-- FROM queue_depth_series(INTERVAL 1 MINUTE, since := TIMESTAMPTZ '…', until := TIMESTAMPTZ '…')),
-- as of T.
-- Buckets are [bucket_start, bucket_start + width), aligned by time_bucket, in UTC whatever the
-- session's TimeZone (a 1-day bucket is a UTC day; see add_utc); the series is
-- continuous (empty buckets present) from the bucket of the first task event to the bucket of
-- the last one (stamped <= T), for every queue. depth and processing are the task states after
-- every event stamped before the bucket's end, decided by causality exactly as in task_state:
-- a task's state changes only when an event raises its greatest causal_key; these transitions
-- are summed per bucket and accumulated. So the last bucket agrees with queue_stats. One window
-- pass orders each task's events by time (events of one instant sum to the instant's net
-- transition whatever their order); a transition counts in the queue its event names
-- (AsyncTasQ never moves a task between queues).
-- With since and/or until the rows are exactly those of the whole series whose bucket holds or
-- follows since and holds or precedes until.
-- The snapshot chain stores these transitions per minute for every compacted hour
-- (chain_stored_deltas): when the width is a whole number of minutes, the buckets up to
-- chain_head's hour are sums of the stored ones (so the whole series reads one small file per
-- hour instead of every event), the state entering since's bucket is the sum of the stored
-- minutes before it, and only the rows after the head are ordered, continuing from the tasks it
-- carries: a recent window costs its own stored minutes plus the tail, not a pass over the
-- history. Otherwise the state entering since's bucket comes from the tasks not settled at a
-- link (settled tasks are terminal for good, pending and running in no bucket) plus the rows
-- from it to the bucket: for whole minutes the head at T (since is in its tail, or there is no
-- link yet), for other widths the link before the bucket (live_task_partials_before); one row
-- per task ahead of the bucket's events, and only the events from that bucket on are ordered.
-- (A task whose events name different queues enters such a window counted in its least queue.)
-- Counts within a bucket are events stamped in it (an event stored twice counts once; events of
-- one kind for one task stamped in the same microsecond count once).
-- Grain: one row per queue and bucket.
-- Columns:
--   bucket_start  start of the bucket (UTC)
--   bucket_end    bucket_start + width
--   depth         tasks pending at the bucket's end
--   processing    tasks running at the bucket's end
--   enqueued      task_enqueued events in the bucket
--   started       task_started events in the bucket
--   completed     task_completed events in the bucket
--   failed        task_failed events in the bucket
--   retried       task_reenqueued events in the bucket
--   complete      false when the bucket overlaps an ingest gap (no ingester subscribed for part
--                 of it: its events, and so the depths from it on, may be incomplete); see
--                 ingest_gaps and coverage_complete
CREATE OR REPLACE MACRO queue_depth_series(width, since := NULL, until := NULL) AS TABLE
WITH head AS MATERIALIZED (  -- the chain's head, when its stored minutes make the buckets
    SELECT *
    FROM chain_head
    WHERE (epoch_us(TIMESTAMP '2000-01-03' + width) - epoch_us(TIMESTAMP '2000-01-03'))
          % 60000000 = 0
      AND (since IS NULL OR time_bucket(width, CAST(since AS TIMESTAMPTZ)) < hour_end)
),
now_head AS MATERIALIZED (  -- the chain's head at T, for a width of whole minutes
    SELECT "date", tail_from_hour, hour_end
    FROM chain_head
    WHERE (epoch_us(TIMESTAMP '2000-01-03' + width) - epoch_us(TIMESTAMP '2000-01-03'))
          % 60000000 = 0
),
rows_to_since AS (  -- the rows from that head's hour_end to since's bucket (none when the
    -- bucket precedes it: then the stored minutes hold the state entering it)
    SELECT *
    FROM event_log
    WHERE (epoch_us(TIMESTAMP '2000-01-03' + width) - epoch_us(TIMESTAMP '2000-01-03'))
          % 60000000 = 0
      AND "timestamp" < time_bucket(width, CAST(since AS TIMESTAMPTZ))
      AND (partition_closed_at("date", "hour", time_bucket(width, CAST(since AS TIMESTAMPTZ)))
           OR partition_holds("date", "hour", time_bucket(width, CAST(since AS TIMESTAMPTZ))))
      AND "date" >= coalesce((SELECT "date" FROM now_head), CAST('-infinity' AS DATE))
      AND "hour" >= coalesce((SELECT tail_from_hour FROM now_head), 0)
      AND "timestamp" >= coalesce(
          (SELECT hour_end FROM now_head), CAST('-infinity' AS TIMESTAMPTZ))
),
baseline AS (  -- without stored minutes before it, the tasks' states entering since's bucket:
    -- for a width of whole minutes the carry of the head at T and the rows from it to the
    -- bucket (the bucket is in the tail, or there is no chain); for other widths the carry of
    -- the link before the bucket and the rows from it (live_task_partials_before)
    SELECT * FROM chain_carry
    WHERE (epoch_us(TIMESTAMP '2000-01-03' + width) - epoch_us(TIMESTAMP '2000-01-03'))
          % 60000000 = 0
      AND NOT EXISTS (SELECT 1 FROM head)
    UNION ALL BY NAME
    SELECT * FROM task_partials_of('rows_to_since')
    UNION ALL BY NAME
    SELECT * FROM live_task_partials_before(time_bucket(width, CAST(since AS TIMESTAMPTZ)))
    WHERE (epoch_us(TIMESTAMP '2000-01-03' + width) - epoch_us(TIMESTAMP '2000-01-03'))
          % 60000000 <> 0
),
entering_rows AS (  -- the states the rows after the split continue from
    SELECT * FROM chain_carry WHERE EXISTS (SELECT 1 FROM head)
    UNION ALL BY NAME
    SELECT * FROM baseline WHERE NOT EXISTS (SELECT 1 FROM head)
),
rows_after AS (  -- the rows from the split on: since's bucket, or the head's hour_end
    SELECT *
    FROM event_log
    WHERE stamped_from(
          "timestamp", "date", "hour", time_bucket(width, CAST(since AS TIMESTAMPTZ)))
      AND "date" >= coalesce((SELECT "date" FROM head), CAST('-infinity' AS DATE))
      AND "hour" >= coalesce((SELECT tail_from_hour FROM head), 0)
      AND "timestamp" >= coalesce((SELECT hour_end FROM head), CAST('-infinity' AS TIMESTAMPTZ))
),
stored AS (  -- the stored minutes up to the head's hour_end
    SELECT * FROM chain_stored_deltas WHERE EXISTS (SELECT 1 FROM head)
),
stored_entering AS (  -- the state entering since's bucket: every stored minute before it, summed
    SELECT
        queue, time_bucket(width, CAST(since AS TIMESTAMPTZ)) AS bucket_start,
        sum(pending_delta) AS pending_delta, sum(running_delta) AS running_delta,
        0 AS events, 0 AS enqueued, 0 AS started, 0 AS completed, 0 AS failed, 0 AS retried
    FROM stored
    WHERE bucket_start < time_bucket(width, CAST(since AS TIMESTAMPTZ))
    GROUP BY queue
),
per_bucket AS (
    SELECT
        queue,
        time_bucket(width, bucket_start) AS bucket_start,
        sum(pending_delta) AS pending_delta,
        sum(running_delta) AS running_delta,
        sum(events) AS events,
        sum(enqueued) AS enqueued,
        sum(started) AS started,
        sum(completed) AS completed,
        sum(failed) AS failed,
        sum(retried) AS retried
    FROM (
        SELECT * FROM stored_entering
        UNION ALL
        SELECT queue, bucket_start, pending_delta, running_delta, events, enqueued, started,
               completed, failed, retried
        FROM stored
        WHERE since IS NULL OR bucket_start >= time_bucket(width, CAST(since AS TIMESTAMPTZ))
        UNION ALL
        SELECT * FROM depth_deltas_of(
            'entering_rows', 'rows_after', width,
            coalesce((SELECT hour_end FROM head), time_bucket(width, CAST(since AS TIMESTAMPTZ))),
            count_entering := NOT EXISTS (SELECT 1 FROM head))
    )
    GROUP BY queue, time_bucket(width, bucket_start)
),
grid AS (
    SELECT
        q.queue,
        unnest(list_transform(  -- stepped on the UTC calendar, whatever the session TimeZone
            generate_series(timezone('UTC', b.first_bucket), timezone('UTC', b.last_bucket), width),
            lambda bucket: timezone('UTC', bucket)
        )) AS bucket_start
    FROM (SELECT DISTINCT queue FROM per_bucket) AS q
    CROSS JOIN (  -- to the last event's bucket (an entering state alone makes no bucket)
        SELECT
            min(bucket_start) AS first_bucket,
            max(bucket_start) FILTER (WHERE events > 0) AS last_bucket
        FROM per_bucket
    ) AS b
)
SELECT
    g.queue,
    g.bucket_start,
    add_utc(g.bucket_start, width) AS bucket_end,
    CAST(sum(coalesce(p.pending_delta, 0)) OVER (
        PARTITION BY g.queue ORDER BY g.bucket_start ROWS UNBOUNDED PRECEDING
    ) AS BIGINT) AS depth,
    CAST(sum(coalesce(p.running_delta, 0)) OVER (
        PARTITION BY g.queue ORDER BY g.bucket_start ROWS UNBOUNDED PRECEDING
    ) AS BIGINT) AS processing,
    coalesce(p.enqueued, 0) AS enqueued,
    coalesce(p.started, 0) AS started,
    coalesce(p.completed, 0) AS completed,
    coalesce(p.failed, 0) AS failed,
    coalesce(p.retried, 0) AS retried,
    coverage_complete(g.bucket_start, add_utc(g.bucket_start, width)) AS complete
FROM grid AS g
LEFT JOIN per_bucket AS p USING (queue, bucket_start)
QUALIFY until IS NULL OR g.bucket_start <= time_bucket(width, CAST(until AS TIMESTAMPTZ))
ORDER BY g.queue, g.bucket_start;
