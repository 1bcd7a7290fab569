-- driver_queue_stats: what AsyncTasQ 1.7's Redis driver reports per queue (get_queue_stats), rebuilt
-- from the log, so the two can be cross-checked (rules: tests/interop/DRIVER_SEMANTICS.md).
-- The driver's counters have their own meaning: completed_total counts ACKNOWLEDGEMENTS, and a
-- failed attempt that is retried is acknowledged too (task_completed + task_reenqueued events);
-- failed_total counts task_failed; processing is its processing list, where tasks of a killed
-- worker stay forever (orphans included); depth is its main list: the log cannot tell a task
-- waiting in the main list from one waiting in the delayed set (delayed dispatches, retries
-- serving their retry delay), so depth here is main + delayed. avg_duration_ms and
-- throughput_per_minute are always NULL with the Redis driver.
-- Queue names keep everything after the driver's key prefix: the real driver's
-- get_all_queue_stats() lists a queue named `a:b` as `a` (it splits its Redis keys on ':'),
-- whereas its get_queue_stats('a:b') is right; this view lists `a:b` (the full name, as
-- get_queue_stats reports it), so compare per queue name, not list to list.
-- Grain: one row per queue seen in a task event stamped <= T, sorted by name like the driver.
-- Columns:
--   queue                   queue name (QueueStats.name)
--   depth                   tasks waiting (enqueued or reenqueued, not started again)
--   processing              tasks started and not finished (a killed worker's stay)
--   completed_total         task_completed + task_reenqueued events (acks)
--   failed_total            task_failed events
--   avg_duration_ms         always NULL (the Redis driver does not measure it)
--   throughput_per_minute   always NULL (idem)
CREATE OR REPLACE VIEW driver_queue_stats AS
WITH acks AS (
    SELECT
        queue,
        count(DISTINCT event_id)
            FILTER (WHERE event_type IN ('task_completed', 'task_reenqueued')) AS acked,
        count(DISTINCT event_id) FILTER (WHERE event_type = 'task_failed') AS failed
    FROM event_log
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_completed', 'task_reenqueued', 'task_failed')
    GROUP BY queue
),
states AS (
    SELECT
        queue,
        count(*) FILTER (WHERE state = 'pending') AS waiting,
        count(*) FILTER (WHERE state = 'running') AS processing
    FROM task_state
    GROUP BY queue
)
SELECT
    s.queue,
    s.waiting AS depth,
    s.processing,
    coalesce(a.acked, 0) AS completed_total,
    coalesce(a.failed, 0) AS failed_total,
    CAST(NULL AS DOUBLE) AS avg_duration_ms,
    CAST(NULL AS DOUBLE) AS throughput_per_minute
FROM states AS s
LEFT JOIN acks AS a USING (queue)
ORDER BY s.queue;
