-- worker_session_spans: worker sessions as of T, from worker events only (building block).
-- A session opens at worker_online, at a worker's first event, or at the first event after a
-- worker_offline; it closes at worker_offline. Events of one worker come from one process and
-- one clock, so they are ordered by timestamp (ties: online, heartbeat, offline).
-- end_reason: offline (closed by worker_offline); lost (a later session of the same worker
-- began without an offline, or no event for more than 3 x freq before T: it ended at its last
-- event); running otherwise. freq comes from online/heartbeat events only (worker_offline
-- always says 60), default 60 s.
-- The sessions are those of the snapshot chain's head (chain_sessions) continued by the events
-- after it (chain_tail), by the rule of worker_sessions_after: without a head, every event.
-- Grain: one row per worker_id and session_no (1, 2, … in time order).
-- Columns:
--   covers_from       task events stamped from here (first session: -infinity) …
--   covers_until      … up to here (exclusive; the next session's start, or +infinity) belong to it
--   last_heartbeat    latest worker_online/worker_heartbeat of the session
--   max_active        highest `active` the worker reported in the session (unreliable in 1.7)
--   is_latest         the worker's latest session
CREATE OR REPLACE VIEW worker_session_spans AS
WITH spans AS (
    SELECT
        * EXCLUDE (freq, last_event_type),
        coalesce(freq, 60.0) AS freq
    FROM worker_sessions_after('chain_sessions', 'chain_tail')
),
linked AS (
    SELECT
        *,
        lead(started_at) OVER (PARTITION BY worker_id ORDER BY session_no) AS next_started_at
    FROM spans
),
ended AS (
    SELECT
        *,
        CASE
            WHEN offline_at IS NOT NULL THEN 'offline'
            WHEN next_started_at IS NOT NULL THEN 'lost'
            WHEN (epoch_us(as_of()) - epoch_us(last_seen_at)) / 1e6 > 3 * freq THEN 'lost'
            ELSE 'running'
        END AS end_reason
    FROM linked
)
SELECT
    worker_id,
    session_no,
    hostname,
    queues,
    started_at,
    CASE end_reason
        WHEN 'offline' THEN offline_at
        WHEN 'lost' THEN last_seen_at
    END AS ended_at,
    end_reason,
    greatest(
        CAST(0 AS DOUBLE),
        (epoch_us(CASE end_reason
                      WHEN 'offline' THEN offline_at
                      WHEN 'lost' THEN last_seen_at
                      ELSE as_of()
                  END) - epoch_us(started_at)) / 1e6
    ) AS uptime_s,
    heartbeats,
    last_heartbeat,
    last_seen_at,
    freq,
    max_active,
    processed,
    CASE WHEN session_no = 1 THEN CAST('-infinity' AS TIMESTAMPTZ) ELSE started_at END
        AS covers_from,
    coalesce(next_started_at, CAST('infinity' AS TIMESTAMPTZ)) AS covers_until,
    next_started_at IS NULL AS is_latest
FROM ended;
