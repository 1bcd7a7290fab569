-- causal_key: a task event's place in its task's lifecycle, as a BIGINT (a macro:
-- causal_key(event_type, attempt, timestamp)). The greatest key among a task's events stamped
-- <= T decides its state at T (see causal_state): a terminal event (task_completed,
-- task_failed, task_cancelled) has its terminal_key, which ranks above every other event — it
-- wins over anything stamped later, and task_completed.attempt is always 1 on the wire anyway —
-- and among terminal events the earliest stamped wins (ties: completed, failed, cancelled);
-- task_enqueued, task_started and task_reenqueued have their progress_key (0, attempt*4+1,
-- attempt*4+2). NULL for other event types.
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_key(event_type, attempt, ts) AS
    CASE
        WHEN event_type IN ('task_completed', 'task_failed', 'task_cancelled')
            THEN terminal_key(event_type, ts)
        ELSE progress_key(event_type, attempt)
    END;
