-- task_attempts_begun: how many attempts of a task have begun, implied by causality (a macro:
-- task_attempts_begun(top_key, progress), the task's greatest causal_key and progress_key, see
-- task_partials_of): the attempt of the latest start, reenqueue or failure (progress_attempt);
-- + 1 when the task completed after a reenqueue (is_retry_key: the completing attempt is the
-- one after it); 1 for a task that completed with no start stored; 0 while never started.
-- Grain: one scalar.
CREATE OR REPLACE MACRO task_attempts_begun(top_key, progress) AS
    CASE
        WHEN causal_state(top_key) = 'completed' AND is_retry_key(progress)
            THEN progress_attempt(progress) + 1
        WHEN causal_state(top_key) = 'completed' AND progress_phase(progress) = 0 THEN 1
        WHEN progress_phase(progress) = 0 THEN 0
        ELSE progress_attempt(progress)
    END;
