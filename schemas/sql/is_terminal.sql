-- is_terminal: whether a causal key is a terminal event's (a macro: is_terminal(key) ->
-- BOOLEAN): a key at or above half of terminal_key_base() (2^61) is a terminal key (see
-- terminal_key), below it a progress key (see progress_key). The task whose greatest causal key
-- is terminal is completed, failed or cancelled, and stays so. NULL for NULL.
-- Grain: one scalar.
CREATE OR REPLACE MACRO is_terminal(key) AS key >= terminal_key_base() // 2;
