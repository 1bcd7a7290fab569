-- causal_finished_at: when a task finished, from its greatest causal_key (a macro:
-- causal_finished_at(top_key)): the timestamp of the deciding terminal event (see causal_key),
-- NULL while the task is not terminal.
-- Grain: one scalar.
CREATE OR REPLACE MACRO causal_finished_at(top_key) AS
    CASE WHEN top_key >= 2305843009213693952 THEN
        make_timestamptz((4611686018427387904 - top_key + 3) // 4)
    END;
