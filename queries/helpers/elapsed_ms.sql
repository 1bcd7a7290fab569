-- elapsed_ms: milliseconds from instant a to instant b (a macro: elapsed_ms(a, b) -> DOUBLE),
-- floored at 0 (clock skew between processes can stamp b a little before a); NULL when either
-- is NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO elapsed_ms(a, b) AS
    CASE
        WHEN a IS NOT NULL AND b IS NOT NULL THEN
            greatest(CAST(0 AS DOUBLE), (epoch_us(b) - epoch_us(a)) / 1e3)
    END;
