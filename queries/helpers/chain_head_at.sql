-- chain_head_at: the snapshot chain link a reader starts from for an instant (a table macro:
-- FROM chain_head_at(TIMESTAMPTZ '…')): the last valid link (chain_links) whose hour ended at or
-- before the instant and at or before T. No row when there is none, or when the instant is
-- NULL. tail_from_hour is the least hour partition the rows after it can be in when they are
-- all on its date (no event file of a later date), 0 otherwise: a bound that prunes hours.
-- Grain: at most one row.
CREATE OR REPLACE MACRO chain_head_at(instant) AS TABLE
SELECT
    *,
    CASE
        WHEN "date" >= (
            SELECT max(CAST(regexp_extract(file, 'date=([0-9]{4}-[0-9]{2}-[0-9]{2})/', 1) AS DATE))
            FROM event_files
        ) THEN "hour" + 1
        ELSE 0
    END AS tail_from_hour
FROM chain_links
WHERE valid AND instant IS NOT NULL AND hour_end <= instant AND hour_end <= log_horizon()
ORDER BY "date" DESC, "hour" DESC
LIMIT 1;
