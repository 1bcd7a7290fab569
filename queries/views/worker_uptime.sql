-- worker_uptime: each worker's availability over its observed window, as of T.
-- The window runs from the start of the worker's first session to T; uptime is the sum of its
-- sessions' uptime_s (see worker_sessions).
-- Grain: one row per worker_id seen in a worker event stamped <= T.
-- Columns:
--   sessions        sessions seen
--   restarts        sessions - 1 (a worker_id that came back)
--   crashes         sessions that ended lost
--   uptime_s        total uptime of its sessions, seconds
--   window_s        first session start -> T, seconds
--   availability    uptime_s / window_s, at most 1 (NULL for an empty window)
CREATE OR REPLACE VIEW worker_uptime AS
WITH per_worker AS (
    SELECT
        worker_id,
        count(*) AS sessions,
        count(*) FILTER (WHERE end_reason = 'lost') AS crashes,
        sum(uptime_s) AS uptime_s,
        min(started_at) AS first_started_at
    FROM worker_session_spans
    GROUP BY worker_id
)
SELECT
    worker_id,
    sessions,
    sessions - 1 AS restarts,
    crashes,
    uptime_s,
    greatest(CAST(0 AS DOUBLE), (epoch_us(as_of()) - epoch_us(first_started_at)) / 1e6)
        AS window_s,
    CASE WHEN epoch_us(as_of()) > epoch_us(first_started_at) THEN
        least(1.0, uptime_s / ((epoch_us(as_of()) - epoch_us(first_started_at)) / 1e6))
    END AS availability,
    first_started_at
FROM per_worker;
