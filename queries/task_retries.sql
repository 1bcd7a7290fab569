-- task_retries: the reenqueues (retries) of a task (a macro: task_retries(top_key, progress),
-- see task_attempts_begun): attempts begun - 1, or the attempt of the last reenqueue while the
-- task waits for its next attempt.
-- Grain: one scalar.
CREATE OR REPLACE MACRO task_retries(top_key, progress) AS
    CASE
        WHEN coalesce(progress % 4, 0) = 2 THEN coalesce(progress // 4, 0)
        ELSE greatest(task_attempts_begun(top_key, progress) - 1, 0)
    END;
