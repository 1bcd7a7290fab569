-- as_of: the instant T that every view answers for, as TIMESTAMPTZ (a macro without arguments).
-- The one "as of" mechanism of tasqlake is the DuckDB session variable `as_of`, set once per
-- connection and followed by every view:
--     SET VARIABLE as_of = TIMESTAMPTZ '2026-11-29 12:00:00+00';   -- or TIMESTAMP '…' (UTC,
--                                                                  -- in any session TimeZone)
--     RESET VARIABLE as_of;                                        -- back to "now"
-- Unset, T is now() (the start of the current transaction). Views see only the events stamped
-- at or before T (see log_horizon) and measure ages (lost workers, oldest pending task,
-- throughput window) from T.
-- Grain: one scalar.
CREATE OR REPLACE MACRO as_of() AS
    coalesce(as_of_variable(), now());
