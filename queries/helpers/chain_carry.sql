-- chain_carry: the partials (columns of task_partials_of) of the tasks chain_head carries
-- (chain_carry_at(T)): not settled at the end of its hour.
-- Grain: one row per carried task.
CREATE OR REPLACE VIEW chain_carry AS
SELECT * FROM chain_carry_at(log_horizon());
