"""What the lake's S3 storage relies on, checked against the real server of tasqlake/local_s3.py
(SeaweedFS) through obstore, the client the storage layer uses: SigV4 auth, plain object
operations, conditional create, and data surviving a server restart."""

from __future__ import annotations

import http.client

import obstore
import pytest
from obstore.exceptions import AlreadyExistsError, GenericError, PermissionDeniedError
from obstore.store import S3Store

from tasqlake.local_s3 import SeaweedS3


def test_objects_put_get_list_delete(s3_server: SeaweedS3, s3_bucket: str) -> None:
    store = s3_server.store(s3_bucket)
    obstore.put(store, "events/day=1/a.parquet", b"first")
    obstore.put(store, "events/day=2/b.parquet", b"second")

    assert bytes(obstore.get(store, "events/day=1/a.parquet").bytes()) == b"first"
    listed = obstore.list(store, prefix="events/").collect()
    assert sorted(meta["path"] for meta in listed) == [
        "events/day=1/a.parquet",
        "events/day=2/b.parquet",
    ]
    assert obstore.list_with_delimiter(store, prefix="events/")["common_prefixes"] == [
        "events/day=1",
        "events/day=2",
    ]

    obstore.delete(store, "events/day=1/a.parquet")
    with pytest.raises(FileNotFoundError):
        obstore.get(store, "events/day=1/a.parquet")
    assert [meta["path"] for meta in obstore.list(store).collect()] == ["events/day=2/b.parquet"]


def test_wrong_credentials_are_refused(s3_server: SeaweedS3, s3_bucket: str) -> None:
    def store_with(access_key: str, secret_key: str) -> S3Store:
        return S3Store(
            s3_bucket,
            endpoint=s3_server.endpoint,
            access_key_id=access_key,
            secret_access_key=secret_key,
            region=s3_server.region,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    obstore.put(s3_server.store(s3_bucket), "kept", b"data")
    wrong_secret = store_with(s3_server.access_key, "not-the-secret")
    unknown_key = store_with("nobody", "nothing")
    for store in (wrong_secret, unknown_key):
        with pytest.raises(PermissionDeniedError):
            obstore.put(store, "intruder", b"x")
        with pytest.raises(PermissionDeniedError):
            obstore.get(store, "kept")
    with pytest.raises(GenericError, match="403 Forbidden"):  # list maps 403 to no finer class
        obstore.list(wrong_secret).collect()

    connection = http.client.HTTPConnection("127.0.0.1", s3_server.ports["s3.port"], timeout=5)
    try:
        connection.request("PUT", f"/{s3_bucket}/intruder", body=b"x")  # unsigned
        assert connection.getresponse().status == 403
    finally:
        connection.close()
    with pytest.raises(FileNotFoundError):
        obstore.get(s3_server.store(s3_bucket), "intruder")


def test_writing_to_a_missing_bucket_fails(s3_server: SeaweedS3) -> None:
    """No bucket appears on first upload (SeaweedFS would, for an Admin, by default)."""
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        obstore.put(s3_server.store("no-such-bucket"), "a", b"x")


def test_conditional_create_keeps_the_first_object(s3_server: SeaweedS3, s3_bucket: str) -> None:
    store = s3_server.store(s3_bucket)
    obstore.put(store, "manifest/000001.json", b"first", mode="create")
    with pytest.raises(AlreadyExistsError):
        obstore.put(store, "manifest/000001.json", b"second", mode="create")
    assert bytes(obstore.get(store, "manifest/000001.json").bytes()) == b"first"


def test_objects_survive_stop_and_start(s3_server: SeaweedS3, s3_bucket: str) -> None:
    store = s3_server.store(s3_bucket)
    obstore.put(store, "before/stop", b"durable")

    s3_server.stop()
    try:
        with pytest.raises(GenericError, match="error sending request"):
            obstore.put(s3_server.store(s3_bucket, {"max_retries": 0}), "while/stopped", b"x")
    finally:
        s3_server.start()

    assert bytes(obstore.get(store, "before/stop").bytes()) == b"durable"
    obstore.put(store, "after/start", b"writable again")
    assert [meta["path"] for meta in obstore.list(store).collect()] == [
        "after/start",
        "before/stop",
    ]
