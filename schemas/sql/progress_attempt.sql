-- progress_attempt: the attempt a progress key belongs to (a macro: progress_attempt(key) ->
-- BIGINT, see progress_key): key // 4; 0 for an enqueue, or for NULL (no progress event).
-- Grain: one scalar.
CREATE OR REPLACE MACRO progress_attempt(key) AS coalesce(key // 4, 0);
