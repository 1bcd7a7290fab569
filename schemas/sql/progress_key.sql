-- progress_key: how far a task event takes its task through its attempts (a macro:
-- progress_key(event_type, attempt) -> BIGINT): attempt*4 + phase, the phase 0 for
-- task_enqueued (whose attempt counts as 0), 1 for task_started, 2 for task_reenqueued (a
-- reenqueue of attempt k follows the start of k and precedes the start of k+1, whatever the
-- clocks say), 3 for task_failed. A task's greatest progress key locates its latest attempt
-- (progress_attempt, progress_phase); below terminal_key_base() // 2 (see is_terminal). NULL
-- for other event types.
-- Grain: one scalar.
CREATE OR REPLACE MACRO progress_key(event_type, attempt) AS
    CASE event_type
        WHEN 'task_enqueued' THEN CAST(0 AS BIGINT)
        WHEN 'task_started' THEN CAST(attempt AS BIGINT) * 4 + 1
        WHEN 'task_reenqueued' THEN CAST(attempt AS BIGINT) * 4 + 2
        WHEN 'task_failed' THEN CAST(attempt AS BIGINT) * 4 + 3
    END;
