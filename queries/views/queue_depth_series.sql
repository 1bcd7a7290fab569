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
-- follows since and holds or precedes until: the state entering since's bucket comes from the
-- tasks not settled at the snapshot chain link before it (live_task_partials_before: the link's
-- carry and the rows from its hour to the bucket; settled tasks are terminal for good, pending
-- and running in no bucket), one row per task ahead of the bucket's events, and only the events
-- from that bucket on are ordered, so a recent window costs one merge of the carry plus its own
-- events, not a pass over the history. (A task whose events name different queues enters the
-- window counted in its least queue.)
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
WITH partials_before AS (  -- no rows without since
    SELECT * FROM live_task_partials_before(time_bucket(width, CAST(since AS TIMESTAMPTZ)))
),
task_events AS (
    -- each task's state entering since's bucket, as one row at its start (kind -1: before the
    -- bucket's events of the same instant; not an event, counted in no column but the states)
    SELECT
        task_id,
        time_bucket(width, CAST(since AS TIMESTAMPTZ)) AS "timestamp",
        queue,
        'entering' AS event_type,
        top_key AS event_key,
        -1 AS kind
    FROM merge_task_partials('partials_before', terminal_details := false)
    UNION ALL
    SELECT
        task_id,
        "timestamp",
        queue,
        event_type,
        causal_key(event_type, attempt, "timestamp") AS event_key,
        CASE event_type  -- orders the kinds of an instant (an integer sorts faster than text)
            WHEN 'task_enqueued' THEN 0 WHEN 'task_started' THEN 1 WHEN 'task_reenqueued' THEN 2
            WHEN 'task_failed' THEN 3 WHEN 'task_completed' THEN 4 ELSE 5
        END AS kind
    FROM event_log
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_enqueued', 'task_started', 'task_completed', 'task_failed',
                         'task_reenqueued', 'task_cancelled')
      AND stamped_from(
          "timestamp", "date", "hour", time_bucket(width, CAST(since AS TIMESTAMPTZ)))
),
running_top AS (  -- ONE sort: each task's events by time (kinds of an instant together)
    SELECT
        *,
        max(event_key) OVER (task_order ROWS UNBOUNDED PRECEDING) AS top_key,
        max(event_key) OVER (task_order ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            AS previous_top_key,
        lag("timestamp") OVER task_order = "timestamp"
            AND lag(kind) OVER task_order = kind AS repeats
    FROM task_events
    WINDOW task_order AS (PARTITION BY task_id ORDER BY "timestamp", kind, event_key)
),
per_bucket AS (
    SELECT
        queue,
        time_bucket(width, "timestamp") AS bucket_start,
        sum(
            CASE WHEN causal_state(top_key) = 'pending' THEN 1 ELSE 0 END
            - CASE WHEN causal_state(previous_top_key) = 'pending' THEN 1 ELSE 0 END
        ) AS pending_delta,
        sum(
            CASE WHEN causal_state(top_key) = 'running' THEN 1 ELSE 0 END
            - CASE WHEN causal_state(previous_top_key) = 'running' THEN 1 ELSE 0 END
        ) AS running_delta,
        count(*) FILTER (WHERE kind >= 0) AS events,
        count(*) FILTER (WHERE event_type = 'task_enqueued' AND repeats IS NOT TRUE) AS enqueued,
        count(*) FILTER (WHERE event_type = 'task_started' AND repeats IS NOT TRUE) AS started,
        count(*) FILTER (WHERE event_type = 'task_completed' AND repeats IS NOT TRUE)
            AS completed,
        count(*) FILTER (WHERE event_type = 'task_failed' AND repeats IS NOT TRUE) AS failed,
        count(*) FILTER (WHERE event_type = 'task_reenqueued' AND repeats IS NOT TRUE) AS retried
    FROM running_top
    GROUP BY queue, time_bucket(width, "timestamp")
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
