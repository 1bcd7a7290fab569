-- queue_stats: the state of each queue as of T, with the fields of AsyncTasQ's QueueStats in
-- their plain meaning (derived from the log, not the driver's counters: see driver_queue_stats).
-- Counts are of tasks by their state at T (see task_state): a retried task is counted once.
-- The snapshot chain makes it cost what recent activity costs: the totals are the counters
-- chain_head folded for the settled tasks plus those of the tasks not settled
-- (live_tasks, merged as task_state merges them); depth, processing, throughput,
-- orphaned and the oldest pending task come from the tasks not settled alone (a settled task
-- is terminal, and ended before T minus the allowed lateness, at least 5 minutes).
-- Grain: one row per queue seen in a task event stamped <= T.
-- Columns:
--   queue                   queue name (QueueStats.name)
--   depth                   tasks pending: enqueued or reenqueued, not started again
--   processing              tasks running (orphaned ones included)
--   completed_total         tasks completed
--   failed_total            tasks failed for good (task_failed: attempts used up)
--   avg_duration_ms         mean duration of the completing attempt of completed tasks
--   throughput_per_minute   tasks completed in (T - 5 min, T], divided by 5
--   retried_total           retries (reenqueues) of the queue's tasks
--   cancelled_total         tasks cancelled
--   orphaned                running tasks whose worker was lost (see orphaned_tasks)
--   oldest_pending_age_s    seconds from the oldest pending task's (re)enqueue to T
CREATE OR REPLACE VIEW queue_stats AS
WITH lost_sessions AS MATERIALIZED (  -- lost worker sessions (few), decided before the join
    SELECT worker_id, covers_from, covers_until
    FROM worker_session_spans
    WHERE end_reason = 'lost'
),
live AS MATERIALIZED (  -- the tasks not settled at chain_head, as of T
    SELECT * FROM live_tasks
),
t AS (
    SELECT
        queue,
        causal_state(top_key) AS state,
        causal_finished_at(top_key) AS finished_at,
        waiting_since,
        latest_start_at,
        worker_id
    FROM live
),
live_per_queue AS (
    SELECT
        t.queue,
        count(*) FILTER (WHERE t.state = 'pending') AS depth,
        count(*) FILTER (WHERE t.state = 'running') AS processing,
        count(*) FILTER (
            WHERE t.state = 'completed'
              AND t.finished_at > as_of() - INTERVAL 5 MINUTE
              AND t.finished_at <= as_of()
        ) AS completed_recently,
        count(l.worker_id) AS orphaned,
        min(t.waiting_since) FILTER (WHERE t.state = 'pending') AS oldest_pending_since
    FROM t
    LEFT JOIN lost_sessions AS l  -- a running task whose latest start was on a lost session
      ON l.worker_id = t.worker_id  -- (as orphaned_tasks: its worker's session covering the start)
     AND t.state = 'running'
     AND t.latest_start_at >= l.covers_from
     AND t.latest_start_at < l.covers_until
    GROUP BY t.queue
),
counted AS (
    SELECT queue, completed, failed, cancelled, retries, duration_sum, duration_count,
           0 AS depth, 0 AS processing, 0 AS completed_recently, 0 AS orphaned,
           CAST(NULL AS TIMESTAMPTZ) AS oldest_pending_since
    FROM chain_folded
    UNION ALL BY NAME
    SELECT queue, completed, failed, cancelled, retries, duration_sum, duration_count,
           0 AS depth, 0 AS processing, 0 AS completed_recently, 0 AS orphaned,
           CAST(NULL AS TIMESTAMPTZ) AS oldest_pending_since
    FROM task_counters_of('live')
    UNION ALL BY NAME
    SELECT queue, 0 AS completed, 0 AS failed, 0 AS cancelled, 0 AS retries,
           0 AS duration_sum, 0 AS duration_count, depth, processing, completed_recently,
           orphaned, oldest_pending_since
    FROM live_per_queue
),
per_queue AS (
    SELECT
        queue,
        CAST(sum(depth) AS BIGINT) AS depth,
        CAST(sum(processing) AS BIGINT) AS processing,
        CAST(sum(completed) AS BIGINT) AS completed_total,
        CAST(sum(failed) AS BIGINT) AS failed_total,
        CASE WHEN sum(duration_count) > 0
            THEN CAST(sum(duration_sum) AS DOUBLE) / sum(duration_count)
        END AS avg_duration_ms,
        sum(completed_recently) / 5.0 AS throughput_per_minute,
        CAST(sum(retries) AS BIGINT) AS retried_total,
        CAST(sum(cancelled) AS BIGINT) AS cancelled_total,
        CAST(sum(orphaned) AS BIGINT) AS orphaned,
        min(oldest_pending_since) AS oldest_pending_since
    FROM counted
    GROUP BY queue
)
SELECT
    queue,
    depth,
    processing,
    completed_total,
    failed_total,
    avg_duration_ms,
    throughput_per_minute,
    retried_total,
    cancelled_total,
    orphaned,
    CASE WHEN oldest_pending_since IS NOT NULL THEN
        greatest(CAST(0 AS DOUBLE), (epoch_us(as_of()) - epoch_us(oldest_pending_since)) / 1e6)
    END AS oldest_pending_age_s
FROM per_queue;
