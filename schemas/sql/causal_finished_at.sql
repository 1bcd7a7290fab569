-- causal_finished_at: when a task finished, from its greatest causal_key (a macro:
-- causal_finished_at(top_key)): the timestamp of the deciding terminal event (terminal_key
-- inverted), NULL while the task is not terminal (is_terminal).
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_finished_at(top_key) AS
    CASE WHEN is_terminal(top_key) THEN
        make_timestamptz((terminal_key_base() - top_key + 3) // 4)
    END;
