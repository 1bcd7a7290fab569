-- chain_link_rows: the rows of one part of the snapshot chain that belong to a valid link
-- ending at or before chain_head (a table macro: FROM chain_link_rows('part_rows'), part_rows
-- being a part read with read_partitions, its date, hour, filename and empty columns present):
-- the part's history as of T, each row with the end of its link's hour. No rows without a head.
-- Grain: one row per row of the files of those links.
-- Columns:
--   link_hour_end  the end of the hour of the link the row belongs to
CREATE OR REPLACE MACRO chain_link_rows(part_rows) AS TABLE
SELECT p.* EXCLUDE ("empty", filename), l.hour_end AS link_hour_end
FROM query_table(part_rows) AS p
JOIN chain_links AS l
  ON p."date" = l."date" AND p."hour" = l."hour" AND parse_filename(p.filename) = l.name
WHERE l.valid AND l.hour_end <= (SELECT hour_end FROM chain_head);
