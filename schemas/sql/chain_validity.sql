-- chain_validity: which links of the snapshot chain may be trusted, from file names alone (a
-- table macro: FROM chain_validity('chain_files', 'event_files'), each relation with a column
-- `file`: the paths of the chain's files, chain/<part>/date=YYYY-MM-DD/hour=HH/<name>, and of
-- the event files, events/date=…/hour=…/<name>). A link of hour H is the set of its parts
-- (carry, folded, deltas, sessions, late, links) named link-G-B-T-P.parquet: G the compaction
-- generation of H's events it was built from, B its build time in ms, T its token, P its
-- predecessor's token. It is complete when all six parts are there. A link is valid when every
-- link up to it holds: it is its hour's newest complete link; its hour's event files are
-- exactly the snapshotted files of generation G (a file landing later in that hour, a new
-- compaction of it, or files superseded and not yet deleted break it); it names the token of
-- the link before it (the first link may name any: retention deletes older ones); and no hour
-- between it and the link before it holds events. One invalid link invalidates every later one:
-- readers start from the last valid link at or before their instant, and the next compaction
-- rebuilds the chain from the first invalid hour.
-- Grain: one row per hour that has a link (its newest).
-- Columns:
--   date        the link's hour partition date (UTC)
--   hour        the link's hour partition hour (0-23)
--   hour_end    the end of that hour: the link holds the state at this instant
--   generation  compaction generation of the hour's events the link was built from
--   built       build time of the link (ms since the epoch)
--   token       the link's token
--   previous    the token of the link it was built from (00000000 for none)
--   name        the link's file name (the same in every part of the chain)
--   valid       whether this link and all before it hold
CREATE OR REPLACE MACRO chain_validity(chain_files, event_files) AS TABLE
WITH parts AS (
    SELECT
        p.part,
        CAST(p.date AS DATE) AS "date",
        CAST(p.hour AS INTEGER) AS "hour",
        CAST(p.generation AS INTEGER) AS generation,
        CAST(p.built AS BIGINT) AS built,
        p.token,
        p.previous,
        p.name
    FROM (
        SELECT regexp_extract(
            file,
            '/?([a-z]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/hour=([0-9]{1,2})/'
            || '(link-([0-9]{6})-([0-9]{13})-([0-9a-f]{8})-([0-9a-f]{8})\.parquet)$',
            ['part', 'date', 'hour', 'name', 'generation', 'built', 'token', 'previous']
        ) AS p
        FROM query_table(chain_files)
    )
    WHERE p.name <> ''
),
complete AS (  -- links with every part there
    SELECT "date", "hour", generation, built, token, previous, name
    FROM parts
    GROUP BY "date", "hour", generation, built, token, previous, name
    HAVING count(DISTINCT part) FILTER (
        WHERE part IN ('carry', 'folded', 'deltas', 'sessions', 'late', 'links')
    ) = 6
),
links AS (  -- the newest complete link of each hour
    SELECT *
    FROM complete
    QUALIFY row_number() OVER (PARTITION BY "date", "hour" ORDER BY built DESC, token DESC) = 1
),
files AS (
    SELECT
        CAST(p.date AS DATE) AS "date",
        CAST(p.hour AS INTEGER) AS "hour",
        TRY_CAST(regexp_extract(p.name, '^snapshotted-([0-9]{6})-', 1) AS INTEGER) AS generation
    FROM (
        SELECT regexp_extract(
            file,
            'date=([0-9]{4}-[0-9]{2}-[0-9]{2})/hour=([0-9]{1,2})/([^/]+\.parquet)$',
            ['date', 'hour', 'name']
        ) AS p
        FROM query_table(event_files)
    )
    WHERE p.name <> ''
),
hours AS (
    SELECT
        "date",
        "hour",
        count(*) = count(generation) AS all_snapshotted,
        min(generation) AS first_generation,
        max(generation) AS last_generation
    FROM files
    GROUP BY "date", "hour"
),
timeline AS (
    SELECT
        "date",
        "hour",
        l.generation,
        l.built,
        l.token,
        l.previous,
        l.name,
        l.token IS NOT NULL
        AND coalesce(
            h.all_snapshotted
            AND h.first_generation = l.generation
            AND h.last_generation = l.generation,
            true  -- no event file left in the hour (retention): nothing to contradict it
        )
        AND l.previous = coalesce(lag(l.token) OVER (ORDER BY "date", "hour"), l.previous)
            AS holds
    FROM links AS l
    FULL OUTER JOIN hours AS h USING ("date", "hour")
)
SELECT
    "date",
    "hour",
    timezone('UTC', CAST("date" AS TIMESTAMP) + to_hours("hour" + 1)) AS hour_end,
    generation,
    built,
    token,
    previous,
    name,
    valid
FROM (
    SELECT
        *,
        bool_and(holds) OVER (ORDER BY "date", "hour" ROWS UNBOUNDED PRECEDING) AS valid
    FROM timeline
)
WHERE token IS NOT NULL;
