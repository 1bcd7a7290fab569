-- chain_head: the snapshot chain link the views start from as of T (chain_head_at(T)): the last
-- valid link whose hour ended at or before T. No row when there is none (no compaction yet, T
-- before the first link, or the first link invalid): the views then replay every row. The chain
-- parts are read through it (chain_carry, chain_folded, chain_sessions, chain_summary) and the
-- rows after it (chain_tail): its date and hour prune their files while the query runs.
-- Grain: at most one row.
CREATE OR REPLACE VIEW chain_head AS
SELECT * FROM chain_head_at(log_horizon());
