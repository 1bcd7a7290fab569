"""The write-ahead log: its on-disk format, the writer (the receiver's), the reader (recovery and
tailing) and the small state files beside the segments."""
