"""Fixtures shared by every test folder.

``s3_server``: one real S3-compatible server (SeaweedFS, tasqlake/local_s3.py) for the whole
session, started on first use only; ``s3_bucket``: a fresh bucket on it for one test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tasqlake.lake.storage import Lake
from tasqlake.local_s3 import SeaweedS3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """The session's S3 server, running. A test may stop and start it (same endpoint, same
    data); it must leave it running, which ``s3_bucket`` sees to after each test."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield server
    finally:
        server.stop(grace=3.0)  # then SIGKILL: its data goes with the session's directory


@pytest.fixture
def s3_bucket(s3_server: SeaweedS3) -> Iterator[str]:
    """The name of a new, empty bucket on ``s3_server``, so tests never see each other's
    objects. Buckets are not deleted: they go with the session's data directory."""
    name = f"test-{uuid.uuid4().hex}"
    s3_server.create_bucket(name)
    yield name
    if not s3_server.running:  # a test stopped the server and failed before restarting it
        s3_server.start()


@pytest.fixture
def s3_lake(s3_server: SeaweedS3, s3_bucket: str) -> Lake:
    """An empty lake at ``s3://<s3_bucket>/lake`` on ``s3_server``, ready for writing."""
    return s3_server.lake(s3_bucket).ensure()
