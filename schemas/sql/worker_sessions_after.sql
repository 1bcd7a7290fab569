-- worker_sessions_after: worker sessions continued by later worker events (a table macro:
-- FROM worker_sessions_after('sessions', 'events')). `sessions` holds sessions in the columns
-- below (a snapshot chain link's, or none), `events` stored event rows all stamped after every
-- event those sessions were built from (the next hour partitions: the lake is partitioned by
-- event time). The result is what one pass over all the events would give: a worker's session
-- opens with worker_online, with its first event, or with the first event after a
-- worker_offline (events ordered by timestamp, then online < heartbeat < offline, then
-- event_id; duplicates by event_id ignored); the worker's latest stored session is continued
-- by its new events unless they open a new one. The aggregates are raw: freq is NULL without a
-- positive freq, and how a session ended (offline, lost, running) is decided by the reader at
-- its instant (worker_session_spans).
-- Grain: one row per (worker_id, session_no).
-- Columns:
--   worker_id        the worker
--   session_no       1, 2, … in start order
--   hostname         hostname of its latest event that names one
--   queues           queues of its latest non-offline event that names them
--   started_at       its first event's timestamp
--   last_seen_at     its last event's timestamp
--   last_heartbeat   its last non-offline event's timestamp
--   offline_at       its worker_offline's timestamp (NULL while none)
--   freq             heartbeat interval (s) of its latest non-offline event with a positive one
--   heartbeats       worker_heartbeat events
--   max_active       largest active count reported
--   processed        processed count of its latest event that reports one
--   last_event_type  event type of its last event (decides whether the next one opens a session)
CREATE OR REPLACE MACRO worker_sessions_after(sessions, events) AS TABLE
WITH stored AS (
    SELECT * FROM query_table(sessions)
),
worker_events AS (
    SELECT DISTINCT ON (event_id)
        event_id, worker_id, event_type, "timestamp", hostname, freq, active, processed, queues,
        CASE event_type WHEN 'worker_online' THEN 0 WHEN 'worker_heartbeat' THEN 1 ELSE 2 END
            AS phase,
        CAST(0 AS BIGINT) AS base
    FROM query_table(events)
    WHERE event_type IN ('worker_online', 'worker_heartbeat', 'worker_offline')
      AND worker_id IS NOT NULL
),
entering AS (  -- each stored worker's latest session, as one row before its new events
    SELECT
        worker_id, last_event_type AS event_type, last_seen_at AS "timestamp", -1 AS phase,
        session_no AS base
    FROM stored
    QUALIFY row_number() OVER (PARTITION BY worker_id ORDER BY session_no DESC) = 1
),
marked AS (
    SELECT
        *,
        CASE
            WHEN phase < 0 THEN 0
            WHEN event_type = 'worker_online' THEN 1
            WHEN lag(event_type) OVER w IS NULL THEN 1
            WHEN lag(event_type) OVER w = 'worker_offline' THEN 1
            ELSE 0
        END AS opens,
        row_number() OVER w AS seq
    FROM (SELECT * FROM worker_events UNION ALL BY NAME SELECT * FROM entering)
    WINDOW w AS (PARTITION BY worker_id ORDER BY "timestamp", phase, event_id)
),
numbered AS (
    SELECT
        *,
        max(base) OVER (PARTITION BY worker_id)
        + sum(opens) OVER (
            PARTITION BY worker_id ORDER BY "timestamp", phase, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS session_no
    FROM marked
),
spans AS (
    SELECT
        worker_id,
        CAST(session_no AS BIGINT) AS session_no,
        arg_max(hostname, "timestamp") AS hostname,
        arg_max(queues, "timestamp") FILTER (WHERE event_type <> 'worker_offline') AS queues,
        min("timestamp") AS started_at,
        max("timestamp") AS last_seen_at,
        max("timestamp") FILTER (WHERE event_type <> 'worker_offline') AS last_heartbeat,
        max("timestamp") FILTER (WHERE event_type = 'worker_offline') AS offline_at,
        arg_max(freq, "timestamp") FILTER (WHERE event_type <> 'worker_offline' AND freq > 0)
            AS freq,
        count(*) FILTER (WHERE event_type = 'worker_heartbeat') AS heartbeats,
        max(active) FILTER (WHERE event_type <> 'worker_offline') AS max_active,
        arg_max(processed, "timestamp") AS processed,
        arg_max(event_type, seq) AS last_event_type
    FROM numbered
    WHERE phase >= 0
    GROUP BY worker_id, session_no
)
SELECT
    coalesce(n.worker_id, s.worker_id) AS worker_id,
    CAST(coalesce(n.session_no, s.session_no) AS BIGINT) AS session_no,
    coalesce(n.hostname, s.hostname) AS hostname,
    coalesce(n.queues, s.queues) AS queues,
    least(n.started_at, s.started_at) AS started_at,
    greatest(n.last_seen_at, s.last_seen_at) AS last_seen_at,
    greatest(n.last_heartbeat, s.last_heartbeat) AS last_heartbeat,
    greatest(n.offline_at, s.offline_at) AS offline_at,
    coalesce(n.freq, s.freq) AS freq,
    CAST(coalesce(n.heartbeats, 0) + coalesce(s.heartbeats, 0) AS BIGINT) AS heartbeats,
    greatest(n.max_active, s.max_active) AS max_active,
    coalesce(n.processed, s.processed) AS processed,
    coalesce(n.last_event_type, s.last_event_type) AS last_event_type
FROM spans AS n
FULL OUTER JOIN stored AS s
  ON s.worker_id = n.worker_id AND s.session_no = n.session_no;
