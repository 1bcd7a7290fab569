-- throughput: throughput_series with 1-minute buckets (see throughput_series for the rules).
-- Grain: one row per queue, task_name and minute with an end event.
CREATE OR REPLACE VIEW throughput AS
SELECT * FROM throughput_series(INTERVAL 1 MINUTE);
