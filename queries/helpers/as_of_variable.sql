-- as_of_variable: the DuckDB variable `as_of` as a TIMESTAMPTZ, NULL when unset (a macro
-- without arguments; as_of() and log_horizon() build on it).
-- A TIMESTAMPTZ value is taken as it is. A TIMESTAMP (or DATE) value has no zone: it is read as
-- UTC, whatever the session's TimeZone (a plain CAST would read it in the session's zone, so
-- the same SET VARIABLE would mean another instant in a client set to America/New_York).
-- Text is cast like a TIMESTAMPTZ literal (give it an offset: '2026-11-29 12:00:00+00').
-- Grain: one scalar.
CREATE OR REPLACE MACRO as_of_variable() AS
    CASE
        WHEN typeof(getvariable('as_of'))
             IN ('TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'DATE')
            THEN timezone('UTC', CAST(getvariable('as_of') AS TIMESTAMP))
        ELSE CAST(getvariable('as_of') AS TIMESTAMPTZ)
    END;
