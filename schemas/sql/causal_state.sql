-- causal_state: the task state a causal key stands for (a macro: causal_state(key) -> VARCHAR):
-- completed | failed | cancelled for terminal keys (is_terminal; the rank terminal_key added),
-- running for a start (is_start_key), pending for an enqueue or a reenqueue; NULL for NULL
-- (the task does not exist yet).
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_state(key) AS
    CASE
        WHEN key IS NULL THEN NULL
        WHEN is_terminal(key) THEN
            CASE key % 4 WHEN 2 THEN 'completed' WHEN 1 THEN 'failed' ELSE 'cancelled' END
        WHEN is_start_key(key) THEN 'running'
        ELSE 'pending'
    END;
