-- depth_deltas_of: how each queue's pending and running counts change per time bucket, and its
-- task events per bucket, from the tasks' states entering an instant and the events from it on
-- (a table macro: FROM depth_deltas_of('entering', 'events', width, start[,
-- count_entering := false])). `entering` holds task partials (columns of task_partials_of) of
-- the state at `start` (none when start is NULL), `events` stored event rows (those before start
-- are ignored). A task's state changes only when an event raises its greatest causal_key (see
-- causal_key): each task's events are ordered by time (kinds of an instant together: enqueued,
-- started, reenqueued, failed, completed, other; events of one instant sum to the instant's net
-- transition whatever their order) after its entering state, and each transition is summed in
-- the bucket of its event, in the queue the event names. With count_entering the entering states
-- count as transitions from nothing at start's bucket (a series that begins at start); without,
-- they only order what follows (the deltas continue a series already summed up to start: the
-- snapshot chain's stored deltas). Counts are events stamped in the bucket (an event stored twice
-- counts once; events of one kind for one task stamped in the same microsecond count once).
-- queue_depth_series accumulates these; the snapshot chain stores them per minute for each
-- compacted hour.
-- Grain: one row per (queue, bucket) with a transition, an event or an entering state.
-- Columns:
--   queue          the queue
--   bucket_start   start of the bucket (time_bucket(width, …))
--   pending_delta  change of the number of tasks pending
--   running_delta  change of the number of tasks running
--   events         task events in the bucket (entering states not counted)
--   enqueued       task_enqueued events
--   started        task_started events
--   completed      task_completed events
--   failed         task_failed events
--   retried        task_reenqueued events
CREATE OR REPLACE MACRO depth_deltas_of(entering, events, width, start, count_entering := true)
AS TABLE
WITH task_events AS (
    -- each task's state entering start, as one row at start (kind -1: before the events of the
    -- same instant; not an event)
    SELECT
        task_id,
        CAST(start AS TIMESTAMPTZ) AS "timestamp",
        queue,
        'entering' AS event_type,
        top_key AS event_key,
        -1 AS kind
    FROM combine_task_partials(entering, terminal_details := false)
    WHERE start IS NOT NULL
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
    FROM query_table(events)
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_enqueued', 'task_started', 'task_completed', 'task_failed',
                         'task_reenqueued', 'task_cancelled')
      AND (start IS NULL OR "timestamp" >= start)
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
)
SELECT
    queue,
    time_bucket(width, "timestamp") AS bucket_start,
    sum(
        CASE WHEN kind < 0 AND NOT count_entering THEN 0 ELSE
            CASE WHEN causal_state(top_key) = 'pending' THEN 1 ELSE 0 END
            - CASE WHEN causal_state(previous_top_key) = 'pending' THEN 1 ELSE 0 END
        END
    ) AS pending_delta,
    sum(
        CASE WHEN kind < 0 AND NOT count_entering THEN 0 ELSE
            CASE WHEN causal_state(top_key) = 'running' THEN 1 ELSE 0 END
            - CASE WHEN causal_state(previous_top_key) = 'running' THEN 1 ELSE 0 END
        END
    ) AS running_delta,
    count(*) FILTER (WHERE kind >= 0) AS events,
    count(*) FILTER (WHERE event_type = 'task_enqueued' AND repeats IS NOT TRUE) AS enqueued,
    count(*) FILTER (WHERE event_type = 'task_started' AND repeats IS NOT TRUE) AS started,
    count(*) FILTER (WHERE event_type = 'task_completed' AND repeats IS NOT TRUE) AS completed,
    count(*) FILTER (WHERE event_type = 'task_failed' AND repeats IS NOT TRUE) AS failed,
    count(*) FILTER (WHERE event_type = 'task_reenqueued' AND repeats IS NOT TRUE) AS retried
FROM running_top
GROUP BY queue, time_bucket(width, "timestamp");
