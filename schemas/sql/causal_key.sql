-- causal_key: a task event's place in its task's lifecycle, as a BIGINT (a macro:
-- causal_key(event_type, attempt, timestamp)). The greatest key among a task's events stamped
-- <= T decides its state at T (see causal_state):
--   task_enqueued 0; task_started attempt*4+1; task_reenqueued attempt*4+2 (a reenqueue of
--   attempt k follows the start of k and precedes the start of k+1, whatever the clocks say);
--   terminal events (task_completed, task_failed, task_cancelled) rank above every other event —
--   they win over anything stamped later, and task_completed.attempt is always 1 on the wire
--   anyway — and among them the earliest stamped wins (ties: completed, failed, cancelled):
--   2^62 - 4*epoch_us(timestamp) + (2|1|0). NULL for other event types.
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_key(event_type, attempt, ts) AS
    CASE event_type
        WHEN 'task_enqueued' THEN CAST(0 AS BIGINT)
        WHEN 'task_started' THEN CAST(attempt AS BIGINT) * 4 + 1
        WHEN 'task_reenqueued' THEN CAST(attempt AS BIGINT) * 4 + 2
        WHEN 'task_completed' THEN 4611686018427387904 - 4 * epoch_us(ts) + 2
        WHEN 'task_failed' THEN 4611686018427387904 - 4 * epoch_us(ts) + 1
        WHEN 'task_cancelled' THEN 4611686018427387904 - 4 * epoch_us(ts)
    END;
