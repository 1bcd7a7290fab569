-- is_settled: whether a task whose greatest causal key is top_key is settled at an instant
-- (a macro: is_settled(top_key, settle_before) -> BOOLEAN): it is terminal and its deciding
-- terminal event is stamped before settle_before, which the snapshot chain sets to the end of
-- the link's hour minus the allowed lateness. Under the lateness bound no event of a settled
-- task is still to come, so its contribution is folded into the chain's counters and its
-- partials are no longer carried. NULL for NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO is_settled(top_key, settle_before) AS
    is_terminal(top_key) AND causal_finished_at(top_key) < settle_before;
