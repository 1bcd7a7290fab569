-- task_retries: the reenqueues (retries) of a task (a macro: task_retries(top_key, progress),
-- see task_attempts_begun): attempts begun - 1, or the attempt of the last reenqueue while the
-- task waits for its next attempt (is_retry_key).
-- Grain: one scalar.
CREATE OR REPLACE MACRO task_retries(top_key, progress) AS
    CASE
        WHEN is_retry_key(progress) THEN progress_attempt(progress)
        ELSE greatest(task_attempts_begun(top_key, progress) - 1, 0)
    END;
