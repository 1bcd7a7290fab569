-- terminal_key_base: the base of the terminal causal keys, 2^62 (a macro without arguments):
-- a terminal event's key is terminal_key_base() - 4*epoch_us(timestamp) + its rank (see
-- terminal_key), so for any instant from 1970 to the year ~9000 it lies in (2^61, 2^62], far
-- above every progress key (attempt*4 + phase, see progress_key). is_terminal tells the two
-- apart at half the base; causal_finished_at inverts it.
-- Grain: one scalar.
CREATE OR REPLACE MACRO terminal_key_base() AS CAST(4611686018427387904 AS BIGINT);
