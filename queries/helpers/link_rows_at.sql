-- link_rows_at: the rows of one part of the snapshot chain that belong to the link
-- chain_head_at(instant) (a table macro: FROM link_rows_at('part_rows', instant), part_rows
-- being a part read with read_partitions, its date, hour, filename and empty columns present).
-- The join on the head's date and hour prunes the part's files while the query runs: one file
-- is read. The part's own columns are returned.
-- Grain: one row per row of the link's file of that part.
CREATE OR REPLACE MACRO link_rows_at(part_rows, instant) AS TABLE
SELECT p.* EXCLUDE ("date", "hour", "empty", "filename")
FROM query_table(part_rows) AS p
JOIN chain_head_at(instant) AS h  -- one row at most
  ON p."date" = h."date" AND p."hour" = h."hour" AND parse_filename(p.filename) = h.name;
