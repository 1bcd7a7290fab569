-- task_latency: how long tasks wait, run and take end to end, per queue and task type, as of T.
-- Percentiles are interpolated (quantile_cont) over the tasks where the measure exists (see
-- tasks: wait_ms needs enqueue and start, run_ms an ended attempt, total_ms enqueue and end).
-- Grain: one row per queue and task_name.
-- Columns:
--   count        tasks
--   wait_p50     median of tasks.wait_ms (likewise _p95, _p99)
--   run_p50      median of tasks.run_ms (likewise _p95, _p99)
--   total_p50    median of tasks.total_ms (likewise _p95, _p99)
CREATE OR REPLACE VIEW task_latency AS
SELECT
    queue,
    task_name,
    count(*) AS count,
    quantile_cont(wait_ms, 0.5) AS wait_p50,
    quantile_cont(wait_ms, 0.95) AS wait_p95,
    quantile_cont(wait_ms, 0.99) AS wait_p99,
    quantile_cont(run_ms, 0.5) AS run_p50,
    quantile_cont(run_ms, 0.95) AS run_p95,
    quantile_cont(run_ms, 0.99) AS run_p99,
    quantile_cont(total_ms, 0.5) AS total_p50,
    quantile_cont(total_ms, 0.95) AS total_p95,
    quantile_cont(total_ms, 0.99) AS total_p99
FROM tasks
GROUP BY queue, task_name;
