-- workers: who is (or was) consuming, as of T: each worker's last sign of life and status.
-- Grain: one row per worker_id seen in a worker event stamped <= T.
-- Columns:
--   first_seen        the start of the worker's first session
--   last_seen         its latest worker event (online, heartbeat or offline)
--   status            active | idle | offline | lost (as in worker_stats)
--   sessions          sessions seen (a worker_id that comes back online starts a new one)
CREATE OR REPLACE VIEW workers AS
SELECT
    s.worker_id,
    s.hostname,
    s.queues,
    f.first_seen,
    s.last_seen_at AS last_seen,
    s.status,
    s.sessions
FROM worker_stats AS s
JOIN (
    SELECT worker_id, min(started_at) AS first_seen
    FROM worker_session_spans
    GROUP BY worker_id
) AS f USING (worker_id);
