"""From the write-ahead log to the lake: batch, build, commit, checkpoint, retire.

The processor reads WAL records in order, feeds their payloads to a :class:`BatchBuilder`, and
commits a batch when it holds ``max_batch_events`` events, when its Arrow tables reach
``max_batch_bytes`` (so a burst of large payloads cannot grow a batch without bound), or its
first record is
``flush_interval`` seconds old. Per batch ``[start, end)`` it writes the intent, commits the
files (named after ``start``), moves the checkpoint to ``end`` and deletes the segments that
are wholly committed. :meth:`Processor.recover` does the same for whatever a previous run left in
the WAL, replaying an interrupted batch with exactly its original bounds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import msgspec
import pyarrow as pa

from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.columnar import BatchBuilder, BuiltBatch
from tasqlake.ingest.processing.gaps import Gap, GapColumns
from tasqlake.ingest.processing.processor_config import ProcessorConfig
from tasqlake.ingest.service.counters import Counters
from tasqlake.ingest.wal.format import GAP, MESSAGES, Record, segment_name
from tasqlake.ingest.wal.reader import WalReader, list_segments
from tasqlake.ingest.wal.state import Intent, WalState
from tasqlake.lake.storage import Lake
from tasqlake.schemas.batch import Partition
from tasqlake.schemas.errors import StorageError
from tasqlake.schemas.redaction import RedactionPolicy

log = logging.getLogger(__name__)

_FRAME = msgspec.msgpack.Decoder(list[tuple[str, list[bytes]]])
_IDLE_SLEEP_S = 0.01
_MAX_RETRY_DELAY_S = 30.0
_GIVE_UP_AFTER_WHEN_STOPPING = 3
#: ~30,000 realistic events; with one batch committing while the next is built, the processor's
#: peak RSS through a 1M-event burst is ~175 MB (measured; 260 MB with 200,000-event batches).


class Processor:
    """Turns WAL records into committed lake files, in order, exactly once."""

    def __init__(self, config: ProcessorConfig, counters: Counters) -> None:
        self.config = config
        self.counters = counters
        self.lake = Lake(config.lake, s3=config.s3)
        self.wal_dir = Path(config.wal_dir)
        self.state = WalState(self.wal_dir)
        committed = self.state.committed()
        if committed is None:
            raise StorageError(f"write-ahead log {self.wal_dir} has no checkpoint")
        self.committed = committed  # advanced by the commit thread
        self._handed = committed  # end of the last batch handed to the commit thread
        self._writing: Future[None] | None = None
        self._commits = ThreadPoolExecutor(1, thread_name_prefix="tasqlake-commit")
        self.reader = WalReader(self.wal_dir, committed)
        self.events = BatchBuilder(
            config.ingester_id, config.max_payload_bytes, RedactionPolicy.parse(config.redact)
        )
        self.gaps = GapColumns(config.ingester_id)
        self._batch_end = committed
        self._batch_opened: float | None = None
        self.last_received_us: int | None = None
        self._stopping: Callable[[], bool] = lambda: True  # recovery: do not wait forever

    @staticmethod
    def wal_path(config: ProcessorConfig) -> Path:
        return Path(config.wal_dir)

    # --- running ---------------------------------------------------------------------------
    def recover(self) -> int:
        """Commit everything a previous run left in the WAL; returns the events recovered.

        Call before the receiver starts writing. Afterwards every segment is retired.
        """
        swept = sum(
            self.lake.sweep_temporary(d)
            for d in (committer.EVENTS, committer.QUARANTINE, committer.GAPS)
        )
        if swept:
            log.info("removed %d temporary files of interrupted commits", swept)
        before = self.counters.get("stored") + self.counters.get("quarantined")
        intent = self.state.intent()
        if intent is not None and intent.start == self.committed and intent.end > intent.start:
            log.info("replaying interrupted batch [%d, %d) of the WAL", intent.start, intent.end)
            while self._batch_end < intent.end and self._process_available(stop_at=intent.end):
                pass
            self.commit()
        while self._process_available():
            pass
        self.commit()
        self.flush()
        self.retire(everything=True)
        self.reader.close()
        self.reader = WalReader(self.wal_dir, self.committed)
        recovered = self.counters.get("stored") + self.counters.get("quarantined") - before
        if recovered:
            log.info("recovered %d events from the write-ahead log", recovered)
        self.counters.add("recovered", recovered)
        return recovered

    def run(self, stopping: Callable[[], bool], alive: Callable[[], bool] = lambda: True) -> None:
        """Tail the WAL until ``stopping()`` and everything written is committed."""
        self._stopping = stopping
        while alive():
            final = stopping()  # read before draining: nothing is written after it turns true
            progressed = self._process_available()
            if self._due():
                self.commit()
            if final and not progressed:
                self.commit()
                self.flush()
                self.retire(everything=True)
                self._commits.shutdown()
                return
            if not progressed:
                time.sleep(_IDLE_SLEEP_S)
        log.error("the ingest service is gone: processor stops without committing")

    # --- batching --------------------------------------------------------------------------
    def _process_available(self, stop_at: int | None = None) -> bool:
        """Take the records on disk now (a bounded amount); False when there were none."""
        progressed = False
        for record in self.reader.read_available():
            progressed = True
            self._take(record)
            if stop_at is not None:  # replaying a batch: its bounds are fixed
                if record.end >= stop_at:
                    return True
                continue
            if (
                len(self.events) >= self.config.max_batch_events
                or self.events.nbytes >= self.config.max_batch_bytes
            ):
                self.commit()
        return progressed

    def _take(self, record: Record) -> None:
        if self._batch_opened is None:
            self._batch_opened = time.monotonic()
        if record.kind == MESSAGES:
            try:
                frame = _FRAME.decode(record.body)
            except msgspec.DecodeError as error:
                log.error("WAL record at %d is unreadable, skipped: %s", record.offset, error)
                frame = []
            for channel, payloads in frame:
                self.events.add(payloads, record.received_us, channel)
            self.last_received_us = record.received_us
        elif record.kind == GAP:
            self.gaps.append(Gap.decode(record.body))
        self._batch_end = record.end

    def _due(self) -> bool:
        return (
            self._batch_opened is not None
            and time.monotonic() - self._batch_opened >= self.config.flush_interval
        )

    # --- committing ------------------------------------------------------------------------
    def commit(self) -> None:
        """Build the open batch (if any) and hand it to the commit thread.

        Batches are committed one at a time, in WAL order, by one thread, while this one reads
        and builds the next: Parquet encoding and fsync release the GIL, so the two overlap.
        At most one batch is being committed while the next is built; handing over waits for
        the previous commit (and raises its error). :meth:`flush` waits for the last one.
        """
        start, end = self._handed, self._batch_end
        if end == start:
            return
        built = self.events.build()
        gap_parts = self.gaps.to_partitions()
        self.flush()
        self._writing = self._commits.submit(self._commit_batch, start, end, built, gap_parts)
        self._handed = end
        self._batch_opened = None

    def flush(self) -> None:
        """Wait until every handed batch is committed; raises the commit thread's error."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _commit_batch(
        self, start: int, end: int, built: BuiltBatch, gap_parts: list[tuple[Partition, pa.Table]]
    ) -> None:
        """Commit one batch and advance the checkpoint (in the commit thread).

        A lake that cannot be written (disk full, permissions) is retried with backoff while
        the WAL keeps growing; only when the service is stopping does it give up (the WAL
        keeps the batch for the next start).
        """
        delay, failures = 0.5, 0
        while True:
            began = time.monotonic()
            try:
                results = self._write(start, end, built, gap_parts)
                break
            except StorageError as error:
                failures += 1
                self.counters.commit_failed()
                if self._stopping() and failures > _GIVE_UP_AFTER_WHEN_STOPPING:
                    raise
                if failures == 1:
                    log.error("cannot commit to the lake, retrying until it works: %s", error)
                time.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_DELAY_S)
        if failures:
            log.info("committing to the lake works again after %d failed attempts", failures)
        self.committed = end
        self.counters.add("stored", built.stored)
        self.counters.add("quarantined", built.quarantined)
        self.counters.add("gaps", sum(t.num_rows for _, t in gap_parts))
        self.counters.add("files", sum(r.files for r in results))
        self.counters.add("lake_bytes", sum(r.bytes for r in results))
        self.counters.commit_succeeded(time.monotonic() - began, built.events)
        self.retire(close_reader=False)

    def _write(
        self, start: int, end: int, built: BuiltBatch, gap_parts: list[tuple[Partition, pa.Table]]
    ) -> list[committer.CommitResult]:
        self.state.set_intent(Intent(start, end))
        name = self.config.ingester_id
        results = [
            committer.commit_tables(self.lake, committer.EVENTS, built.events, name, start),
            committer.commit_tables(self.lake, committer.QUARANTINE, built.quarantine, name, start),
            committer.commit_tables(self.lake, committer.GAPS, gap_parts, name, start),
        ]
        self.state.set_committed(end)
        return results

    def retire(self, everything: bool = False, close_reader: bool = True) -> None:
        """Delete segments whose records are all committed (the newest one only if asked).

        The commit thread passes ``close_reader=False``: the reader belongs to the other
        thread, and a segment it may still hold open is safely unlinked (it reads on to EOF).
        """
        segments = list_segments(self.wal_dir)
        for index, current in enumerate(segments):
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is None:
                if everything and self.reader.offset <= self.committed:
                    self._delete_segment(current, close_reader)
                break
            if following <= self.committed:
                self._delete_segment(current, close_reader)

    def _delete_segment(self, start: int, close_reader: bool) -> None:
        if close_reader and start <= self.reader.offset:
            self.reader.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.wal_dir / segment_name(start))
