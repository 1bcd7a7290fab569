-- log_horizon: the latest event timestamp the views read (a macro without arguments).
-- With `as_of` set it is that instant; unset it is +infinity, so that "now" counts every stored
-- event, even one stamped a little ahead of this machine's clock (publisher clock skew).
-- Grain: one scalar.
CREATE OR REPLACE MACRO log_horizon() AS
    coalesce(as_of_variable(), CAST('infinity' AS TIMESTAMPTZ));
