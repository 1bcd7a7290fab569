-- coverage_complete: whether the window [start_at, end_at) is free of ingest gaps (a macro:
-- coverage_complete(start_at, end_at) -> BOOLEAN): false when it overlaps a window of
-- ingest_gaps (a bucket whose events may be incomplete because no ingester was subscribed for
-- part of it), true otherwise. Used for the `complete` column of queue_depth_series and
-- throughput_series. It says nothing about a bucket still filling up (the one holding T).
-- Grain: one scalar.
CREATE OR REPLACE MACRO coverage_complete(start_at, end_at) AS
    NOT EXISTS (
        SELECT 1 FROM ingest_gaps AS g WHERE g.gap_start < end_at AND g.gap_end > start_at
    );
