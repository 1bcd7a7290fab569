-- progress_phase: the phase of a progress key, or of a causal key that is not terminal (a
-- macro: progress_phase(key) -> BIGINT, see progress_key): key % 4, 0 for an enqueue or for
-- NULL (no progress event), 1 a start (is_start_key), 2 a reenqueue (is_retry_key), 3 a
-- failure.
-- Grain: one scalar.
CREATE OR REPLACE MACRO progress_phase(key) AS coalesce(key % 4, 0);
