"""What the ingest processor needs to know, kept apart from the processor itself so that the
service's receiving process can build it without importing Arrow and the decoder."""

from __future__ import annotations

from dataclasses import dataclass

from tasqlake.lake.s3_options import S3Options
from tasqlake.schemas.redaction import DEFAULT_POLICY_TEXT

DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ProcessorConfig:
    lake: str
    wal_dir: str
    ingester_id: str
    flush_interval: float
    max_batch_events: int
    max_payload_bytes: int
    #: Redaction policy text (``tasqlake.schemas.redaction``), e.g. the service's
    #: ``Settings.redact``.
    redact: str = DEFAULT_POLICY_TEXT
    #: Commit once the batch's Arrow tables hold this many bytes (bounds the processor's memory).
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    #: How to reach an S3 lake (None: a local lake, or the AWS environment's defaults).
    s3: S3Options | None = None
