-- causal_state: the task state a causal key stands for (a macro: causal_state(key) -> VARCHAR):
-- completed | failed | cancelled for terminal keys, running for a start, pending for an
-- enqueue or a reenqueue; NULL for NULL (the task does not exist yet).
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_state(key) AS
    CASE
        WHEN key IS NULL THEN NULL
        WHEN key >= 2305843009213693952 THEN
            CASE key % 4 WHEN 2 THEN 'completed' WHEN 1 THEN 'failed' ELSE 'cancelled' END
        WHEN key % 4 = 1 THEN 'running'
        ELSE 'pending'
    END;
