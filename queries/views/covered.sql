-- covered: whether some ingester was subscribed at instant t, as far as the gap records tell
-- (a macro: covered(t) -> BOOLEAN): false when t lies in a window of ingest_gaps
-- (gap_start <= t < gap_end), true otherwise — also before the observed span, after T, and in
-- a lake without gap records (nothing is known to be missing there). NULL for NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO covered(t) AS
    CASE WHEN t IS NOT NULL THEN
        NOT EXISTS (SELECT 1 FROM ingest_gaps AS g WHERE g.gap_start <= t AND t < g.gap_end)
    END;
