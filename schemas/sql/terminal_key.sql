-- terminal_key: the causal key of a terminal event (a macro: terminal_key(event_type, ts)):
-- terminal_key_base() - 4*epoch_us(ts) + rank, the rank 2 for task_completed, 1 for
-- task_failed, 0 for task_cancelled. Terminal keys rank above every progress key (is_terminal)
-- and, among them, the earliest stamped is the greatest (ties: completed, failed, cancelled);
-- key % 4 gives the rank back, causal_finished_at the instant. NULL for other event types.
-- Grain: one scalar.
CREATE OR REPLACE MACRO terminal_key(event_type, ts) AS
    terminal_key_base() - 4 * epoch_us(ts)
    + CASE event_type
        WHEN 'task_completed' THEN 2
        WHEN 'task_failed' THEN 1
        WHEN 'task_cancelled' THEN 0
    END;
