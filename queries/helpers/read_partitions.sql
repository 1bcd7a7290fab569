-- read_partitions: every row of the Hive-partitioned Parquet files a glob matches (a table
-- macro: FROM read_partitions(glob)), read the one way the lake's directories are read
-- (events/, gaps/, task_snapshots/: LAKE/<dir>/date=YYYY-MM-DD/hour=HH/*.parquet). The glob is
-- expanded each time a query binds, so files committed after connecting are seen by the next
-- query; files of older schema versions are read by column name; a glob that matches nothing
-- gives no row (and one placeholder column named empty: the views add their typed empty
-- branch). `date` and `hour` come from the path and let filters on them skip whole partitions;
-- filename is the file holding the row.
-- Grain: one row per stored row of the matched files.
CREATE OR REPLACE MACRO read_partitions(files) AS TABLE
SELECT *
FROM read_parquet(
    files,
    hive_partitioning = true,
    union_by_name = true,
    allow_empty = true,
    filename = true,
    hive_types = {'date': DATE, 'hour': INTEGER}
);
