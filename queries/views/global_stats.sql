-- global_stats: totals over all queues as of T, the keys of MonitoringService.get_global_stats().
-- Plain meaning (task states, see queue_stats); total = pending + running + completed + failed,
-- as the driver computes it (cancelled tasks are not in it).
-- Sums of task_counters (the snapshot chain's folded counters plus the tasks not settled).
-- Grain: exactly one row.
-- Columns:
--   pending    tasks pending (sum of queue_stats.depth)
--   running    tasks running (sum of queue_stats.processing)
--   completed  tasks completed
--   failed     tasks failed for good
--   total      pending + running + completed + failed
CREATE OR REPLACE VIEW global_stats AS
SELECT
    coalesce(CAST(sum(pending) AS BIGINT), 0) AS pending,
    coalesce(CAST(sum(running) AS BIGINT), 0) AS running,
    coalesce(CAST(sum(completed) AS BIGINT), 0) AS completed,
    coalesce(CAST(sum(failed) AS BIGINT), 0) AS failed,
    coalesce(CAST(sum(pending + running + completed + failed) AS BIGINT), 0) AS total
FROM task_counters;
