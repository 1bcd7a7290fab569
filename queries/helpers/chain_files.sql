-- chain_files: the names of every file of the snapshot chain (chain/<part>/date=…/hour=…/,
-- glob of the variable tasqlake_chain_files_glob), listed, not read: what chain_links decides
-- the chain's validity from.
-- Grain: one row per chain file.
-- Columns:
--   file  the file's path
CREATE OR REPLACE VIEW chain_files AS
SELECT file FROM glob(getvariable('tasqlake_chain_files_glob'));
