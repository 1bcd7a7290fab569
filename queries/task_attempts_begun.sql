-- task_attempts_begun: how many attempts of a task have begun, implied by causality (a macro:
-- task_attempts_begun(top_key, progress), the task's greatest causal_key and progress_key, see
-- task_partials_of): the attempt of the latest start, reenqueue or failure; + 1 when the task
-- completed after a reenqueue (the completing attempt is the one after it); 1 for a task that
-- completed with no start stored; 0 while never started.
-- Grain: one scalar.
CREATE OR REPLACE MACRO task_attempts_begun(top_key, progress) AS
    CASE
        WHEN causal_state(top_key) = 'completed' AND coalesce(progress % 4, 0) = 2
            THEN coalesce(progress // 4, 0) + 1
        WHEN causal_state(top_key) = 'completed' AND coalesce(progress % 4, 0) = 0 THEN 1
        WHEN coalesce(progress % 4, 0) = 0 THEN 0
        ELSE coalesce(progress // 4, 0)
    END;
