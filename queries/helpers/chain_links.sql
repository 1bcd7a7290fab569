-- chain_links: every hour's newest snapshot chain link and whether it may be trusted (see
-- chain_validity: decided from file names, nothing is read).
-- Grain: one row per hour that has a link.
CREATE OR REPLACE VIEW chain_links AS
SELECT * FROM chain_validity('chain_files', 'event_files');
