-- is_retry_key: whether a progress key, or a causal key that is not terminal, is a reenqueue's
-- (a macro: is_retry_key(key) -> BOOLEAN, see progress_key): the task's latest attempt failed
-- and the task waits for the next one (a retry). False for NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO is_retry_key(key) AS progress_phase(key) = 2;
