"""The running service around receiver and processor: start-up and shutdown, counters, metrics
and health, logs, scheduled lake maintenance."""
