-- event_files: the names of the lake's event files, listed, not read (glob of the variable
-- tasqlake_events_glob): what chain_head checks the snapshot chain against.
-- Grain: one row per event file.
-- Columns:
--   file  the file's path
CREATE OR REPLACE VIEW event_files AS
SELECT file FROM glob(getvariable('tasqlake_events_glob'));
