-- global_stats: totals over all queues as of T, the keys of MonitoringService.get_global_stats().
-- Plain meaning (task states, see queue_stats); total = pending + running + completed + failed,
-- as the driver computes it (cancelled tasks are not in it).
-- Grain: exactly one row.
-- Columns:
--   pending    tasks pending (sum of queue_stats.depth)
--   running    tasks running (sum of queue_stats.processing)
--   completed  tasks completed
--   failed     tasks failed for good
--   total      pending + running + completed + failed
CREATE OR REPLACE VIEW global_stats AS
SELECT
    count(*) FILTER (WHERE state = 'pending') AS pending,
    count(*) FILTER (WHERE state = 'running') AS running,
    count(*) FILTER (WHERE state = 'completed') AS completed,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state IN ('pending', 'running', 'completed', 'failed')) AS total
FROM task_state;
