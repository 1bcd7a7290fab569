-- is_start_key: whether a progress key, or a causal key that is not terminal, is a start's (a
-- macro: is_start_key(key) -> BOOLEAN, see progress_key): the task's latest progress is the
-- start of an attempt with no reenqueue or failure of it yet. False for NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO is_start_key(key) AS progress_phase(key) = 1;
