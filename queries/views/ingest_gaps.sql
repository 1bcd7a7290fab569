-- ingest_gaps: windows in which NO ingester was subscribed, as of T: events published then were
-- not received by anyone, so they may be missing from the lake (Redis Pub/Sub does not replay).
-- Built from the gap records (stored_gaps) only, for instants up to T:
--   * ingester i is NOT subscribed before its earliest record's gap_start (it did not exist
--     yet: an ingester that has not started is not subscribed) and within each of its records
--     [gap_start, gap_end); it is taken as subscribed at every other instant up to T — after
--     its latest record too, because a window still open has no record yet (see stored_gaps):
--     an ingester down right now, or stopped for good, shows its downtime only once it
--     subscribes again, and meanwhile still counts as subscribed;
--   * a gap is a maximal window [gap_start, gap_end) inside the observed span, from the
--     earliest gap_start of any ingester (the first ingester's start) to T, in which every
--     ingester seen in a record starting at or before T is not subscribed (the intersection
--     over ingesters of their not-subscribed windows). Before the span nothing was observed and
--     nothing is claimed (an imported history, a lake without gap records: no gaps at all).
-- Records are clipped at T (a window open at T ends at T) and may overlap or repeat (unions).
-- A lake fed by one ingester has a gap at each of its start-ups and reconnections; with two
-- or more, only where their windows overlap. Ingesters are assumed to subscribe the same
-- channels. After `tasqlake prune` removed old gap partitions the span starts at the oldest
-- retained record, and each ingester at its own oldest retained record.
-- See covered(t) and coverage_complete(start, end) to test an instant or a bucket.
-- Grain: one row per maximal window with no ingester subscribed, ordered by gap_start.
-- Columns:
--   gap_start   start of the window (UTC)
--   gap_end     end of the window (exclusive; at most T)
--   duration_s  gap_end - gap_start, seconds
--   ingesters   ingesters with a record over the window (every one started by then), sorted
--   reasons     the distinct reasons of those records, sorted
--   channels    the distinct channels of those records, sorted
CREATE OR REPLACE VIEW ingest_gaps AS
WITH records AS (
    SELECT ingester_id, gap_start, least(gap_end, as_of()) AS gap_end, reason, channels
    FROM stored_gaps
    WHERE gap_start <= as_of()
),
ordered AS (
    SELECT
        ingester_id,
        gap_start,
        gap_end,
        max(gap_end) OVER (
            PARTITION BY ingester_id ORDER BY gap_start, gap_end
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reached
    FROM records
),
runs AS (  -- an ingester's overlapping or touching records form one run
    SELECT
        *,
        sum(CASE WHEN reached IS NULL OR gap_start > reached THEN 1 ELSE 0 END) OVER (
            PARTITION BY ingester_id ORDER BY gap_start, gap_end
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS run_no
    FROM ordered
),
down AS (  -- each ingester's maximal not-subscribed windows; the first from -infinity
    SELECT
        ingester_id,
        CASE WHEN run_no = 1 THEN CAST('-infinity' AS TIMESTAMPTZ) ELSE min(gap_start) END
            AS down_from,
        max(gap_end) AS down_until
    FROM runs
    GROUP BY ingester_id, run_no
),
edges AS (
    SELECT down_from AS instant, 1 AS delta FROM down
    UNION ALL
    SELECT down_until AS instant, -1 AS delta FROM down
),
levels AS (  -- from `instant` to `next_instant`, `down_count` ingesters are not subscribed
    SELECT
        instant,
        sum(sum(delta)) OVER (ORDER BY instant ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            AS down_count,
        lead(instant) OVER (ORDER BY instant) AS next_instant
    FROM edges
    GROUP BY instant
),
span AS (
    SELECT min(gap_start) AS span_start, count(DISTINCT ingester_id) AS ingesters FROM records
),
windows AS (
    SELECT
        greatest(l.instant, s.span_start) AS gap_start,
        least(l.next_instant, as_of()) AS gap_end
    FROM levels AS l
    CROSS JOIN span AS s
    WHERE l.down_count = s.ingesters
      AND l.next_instant IS NOT NULL
)
SELECT
    w.gap_start,
    w.gap_end,
    (epoch_us(w.gap_end) - epoch_us(w.gap_start)) / 1e6 AS duration_s,
    list_sort(list(DISTINCT r.ingester_id)) AS ingesters,
    list_sort(list(DISTINCT r.reason)) AS reasons,
    list_sort(list_distinct(flatten(list(r.channels)))) AS channels
FROM windows AS w
JOIN records AS r
  ON r.gap_start < w.gap_end
 AND r.gap_end > w.gap_start
WHERE w.gap_end > w.gap_start
GROUP BY w.gap_start, w.gap_end
ORDER BY w.gap_start;
