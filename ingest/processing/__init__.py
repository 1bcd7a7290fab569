"""The processing side: from WAL records to committed lake files (decode to Arrow columns,
redact, commit under WAL-derived names, quarantine, gaps), in a thread or a child process."""
