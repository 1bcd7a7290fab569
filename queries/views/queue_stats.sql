-- queue_stats: the state of each queue as of T, with the fields of AsyncTasQ's QueueStats in
-- their plain meaning (derived from the log, not the driver's counters: see driver_queue_stats).
-- Counts are of tasks by their state at T (see task_state): a retried task is counted once.
-- It merges task_partials itself (merge_task_partials, as task_state does), with only the
-- aggregates the counters need, waiting_since, latest_start_at and worker_id for tasks not
-- terminal only (the property tests hold the two equal).
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
per_task AS (  -- task_state's merge; the details of settled tasks skipped (unused here)
    SELECT task_id, queue, top_key, progress, completed_duration, waiting_since,
           latest_start_at, worker_id
    FROM merge_task_partials('task_partials', terminal_details := false)
),
t AS (
    SELECT
        queue,
        causal_state(top_key) AS state,
        causal_finished_at(top_key) AS finished_at,
        task_retries(top_key, progress) AS retries,
        completed_duration,
        waiting_since,
        latest_start_at,
        worker_id
    FROM per_task
),
per_queue AS (
    SELECT
        t.queue,
        count(*) FILTER (WHERE t.state = 'pending') AS depth,
        count(*) FILTER (WHERE t.state = 'running') AS processing,
        count(*) FILTER (WHERE t.state = 'completed') AS completed_total,
        count(*) FILTER (WHERE t.state = 'failed') AS failed_total,
        avg(t.completed_duration) FILTER (WHERE t.state = 'completed') AS avg_duration_ms,
        count(*) FILTER (
            WHERE t.state = 'completed'
              AND t.finished_at > as_of() - INTERVAL 5 MINUTE
              AND t.finished_at <= as_of()
        ) / 5.0 AS throughput_per_minute,
        CAST(sum(t.retries) AS BIGINT) AS retried_total,
        count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled_total,
        count(l.worker_id) AS orphaned,
        min(t.waiting_since) FILTER (WHERE t.state = 'pending') AS oldest_pending_since
    FROM t
    LEFT JOIN lost_sessions AS l  -- a running task whose latest start was on a lost session
      ON l.worker_id = t.worker_id  -- (as orphaned_tasks: its worker's session covering the start)
     AND t.state = 'running'
     AND t.latest_start_at >= l.covers_from
     AND t.latest_start_at < l.covers_until
    GROUP BY t.queue
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
