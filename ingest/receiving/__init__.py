"""The receiving side: the subscriber connection to Redis and the one thread that reads it into
the WAL, recording the windows it was not subscribed."""
