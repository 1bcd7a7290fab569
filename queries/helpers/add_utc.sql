-- add_utc: the instant t + width, the width counted on the UTC calendar (a macro:
-- add_utc(t, width) -> TIMESTAMPTZ). `t + width` on a TIMESTAMPTZ counts days and months in the
-- session's TimeZone (across a daylight-saving change, t + INTERVAL 1 DAY is 23 or 25 hours
-- later in America/New_York); bucket arithmetic uses this instead, so that a bucket is the same
-- instant range in every client, as time_bucket (which buckets TIMESTAMPTZ in UTC) makes them.
-- Grain: one scalar.
CREATE OR REPLACE MACRO add_utc(t, width) AS
    timezone('UTC', timezone('UTC', t) + width);
