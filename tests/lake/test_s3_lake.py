"""The lake on S3 behaves as the lake on disk: one contract, two backends.

Everything runs for real: SeaweedFS (tasqlake/local_s3.py, session fixture ``s3_server``, a fresh
bucket per test), real Parquet, real DuckDB reading ``s3://`` URIs through the lake's store. The
storage contract runs on both backends (``any_lake``); then, on S3 only, the failures a user
meets (wrong secret, missing bucket, store down) must say what to do and never show the secret;
the same events stored and compacted into a local and an S3 lake must give the same rows in every
view; retention must remove old partitions' objects; settings must reach the store with the
credentials of the AWS chain without ever showing them.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tasqlake import queries
from tasqlake.lake import layout, s3_store
from tasqlake.lake.retention import prune
from tasqlake.lake.s3_options import S3Options
from tasqlake.lake.storage import Lake, encode_parquet
from tasqlake.local_s3 import SeaweedS3
from tasqlake.schemas.errors import CommitConflictError, ConfigError, StorageError
from tasqlake.schemas.settings import Settings
from tests.queries.test_chain import head_end, instants_of
from tests.queries.test_depth_window import WINDOW, rows
from tests.queries.test_task_snapshots import (
    B,
    _normal,
    compact_all,
    fill,
    snapshot_of_views,
    stored_history,
)

HOUR17 = "events/date=2026-11-29/hour=17"


def lake_on(server: SeaweedS3, bucket: str, *, secret: str | None = None) -> Lake:
    """A lake at ``s3://bucket/lake`` on ``server`` (with its key, or another ``secret``)."""
    return server.lake(bucket, secret=secret)


@pytest.fixture(params=["local", "s3"])
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """An empty lake: a local directory, or a prefix of a new bucket (the server is started
    only for the S3 case)."""
    if request.param == "local":
        return Lake(tmp_path / "lake").ensure()
    server: SeaweedS3 = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    return lake_on(server, bucket).ensure()


def commit_all(lake: Lake, paths: list[str]) -> None:
    for path in paths:
        lake.commit_bytes(path, path.encode())


def error_of(action: Callable[[], object]) -> StorageError:
    with pytest.raises(StorageError) as info:
        action()
    return info.value


def shown(error: BaseException) -> str:
    """Everything a user could see of ``error``: its message and its whole traceback."""
    return "".join(traceback.format_exception(error))


# --- the storage contract, on both backends ------------------------------------------------


def test_parquet_round_trip(any_lake: Lake) -> None:
    table = pa.table({"x": list(range(100)), "name": [f"n{i}" for i in range(100)]})
    rel = f"{HOUR17}/ing-1-00000001.parquet"
    size = any_lake.commit_parquet(rel, table)
    assert size > 0 and any_lake.size(rel) == size
    assert any_lake.read_table(rel).equals(table)
    assert len(any_lake.read_bytes(rel)) == size
    footer = any_lake.read_metadata(rel)
    assert footer.num_rows == 100
    assert footer.schema.to_arrow_schema().names == ["x", "name"]
    encoded = encode_parquet(table.slice(0, 10))  # encoded beforehand: committed as it is
    other = f"{HOUR17}/ing-1-00000002.parquet"
    assert any_lake.commit_parquet(other, encoded) == len(encoded.data) == any_lake.size(other)
    assert any_lake.read_metadata(other).num_rows == 10
    with duckdb.connect() as con:  # DuckDB reads the lake's URIs (S3: through its store)
        any_lake.attach(con)
        count = con.sql(f"SELECT count(*) FROM read_parquet('{any_lake.events_glob}')")
        assert count.fetchall() == [(110,)]


def test_unreadable_and_missing_files(any_lake: Lake) -> None:
    broken, gone = f"{HOUR17}/broken.parquet", f"{HOUR17}/gone.parquet"
    any_lake.commit_bytes(broken, b"not parquet at all")
    for read in (any_lake.read_table, any_lake.read_metadata):
        for path in (broken, gone):  # a StorageError naming the file
            assert any_lake.describe(path) in str(error_of(lambda: read(path)))  # noqa: B023
    with pytest.raises(FileNotFoundError):
        any_lake.read_bytes(gone)
    with pytest.raises(FileNotFoundError):
        any_lake.size(gone)


LISTED = [
    f"{HOUR17}/a.parquet",
    f"{HOUR17}/b.parquet",
    "events/date=2026-11-29/hour=18/c.parquet",
    "events/date=2026-11-30/hour=00/d.parquet",
    "events/other/e.parquet",
]
NOT_LISTED = [
    f"{HOUR17}/.a.parquet.0123456789ab.tmp",  # hidden: a commit in progress
    f"{HOUR17}/.hidden.parquet",
    "events/.staging/date=2026-11-29/hour=17/f.parquet",  # under a hidden directory
    f"{HOUR17}/notes.json",  # another suffix
    "events/readme.txt",
]
ELSEWHERE = ["gaps/date=2026-11-29/hour=17/g.parquet", "eventsx/date=2026-11-29/hour=17/h.parquet"]


def test_listing(any_lake: Lake) -> None:
    commit_all(any_lake, [*reversed(LISTED), *NOT_LISTED, *ELSEWHERE])
    assert any_lake.list_files("events") == LISTED
    assert any_lake.list_files("events/") == LISTED
    assert any_lake.list_files("events", ".json") == [f"{HOUR17}/notes.json"]
    assert any_lake.list_files(HOUR17) == LISTED[:2]
    assert any_lake.list_files("") == sorted([*LISTED, *ELSEWHERE])
    assert any_lake.list_files("nothing") == []
    assert any_lake.list_files(f"{HOUR17}/a") == []  # a prefix of a name is no directory
    assert any_lake.list_dirs("") == ["events", "eventsx", "gaps"]
    assert any_lake.list_dirs("events") == ["date=2026-11-29", "date=2026-11-30", "other"]
    assert any_lake.list_dirs("events/date=2026-11-29") == ["hour=17", "hour=18"]
    assert any_lake.list_dirs(HOUR17) == []
    assert any_lake.list_dirs("nothing") == []
    assert list(any_lake.iter_partitions()) == [
        ("2026-11-29", 17),
        ("2026-11-29", 18),
        ("2026-11-30", 0),
    ]
    assert list(any_lake.iter_partitions("gaps")) == [("2026-11-29", 17)]
    assert list(any_lake.iter_partitions("quarantine")) == []


@pytest.mark.parametrize("page", [1, 3])
def test_s3_directories_come_from_the_keys_page_by_page(
    s3_server: SeaweedS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, page: int
) -> None:
    """Directories are read from the keys, ``page`` keys a request here, skipping past each
    directory found; one emptied by deletes is gone at once (SeaweedFS goes on reporting it
    as a common prefix for minutes, which brought pruned partitions back)."""
    monkeypatch.setattr(s3_store, "LIST_PAGE", page)
    lake = lake_on(s3_server, s3_bucket)
    eighteen = "events/date=2026-11-29/hour=18/c.parquet"
    commit_all(lake, [*LISTED, *NOT_LISTED, *ELSEWHERE, f"{HOUR17}/c.parquet"])
    assert lake.list_dirs("") == ["events", "eventsx", "gaps"]
    assert lake.list_dirs("events") == ["date=2026-11-29", "date=2026-11-30", "other"]
    assert lake.list_dirs("events/date=2026-11-29") == ["hour=17", "hour=18"]
    assert lake.list_files("events") == sorted([*LISTED, f"{HOUR17}/c.parquet"])
    lake.delete(eighteen)
    assert lake.list_dirs("events/date=2026-11-29") == ["hour=17"]
    lake.delete_tree("events/date=2026-11-30")
    assert lake.list_dirs("events") == ["date=2026-11-29", "other"]
    assert list(lake.iter_partitions()) == [("2026-11-29", 17)]


def test_exists(any_lake: Lake) -> None:
    commit_all(any_lake, LISTED)
    for present in (LISTED[0], "events", "events/", "events/date=2026-11-29", HOUR17):
        assert any_lake.exists(present), present
    for absent in (
        "nothing",
        f"{HOUR17}/gone.parquet",
        f"{HOUR17}/a",  # a prefix of a name
        "events/date=2026-11-29/hour=1",  # a prefix of a directory's name
        "event",
    ):
        assert not any_lake.exists(absent), absent


def test_delete_and_delete_tree(any_lake: Lake) -> None:
    commit_all(any_lake, [*LISTED, *NOT_LISTED, *ELSEWHERE])
    commit_all(any_lake, ["events/date=2026-11-2/hour=01/x.parquet"])  # a name's prefix
    any_lake.delete(LISTED[0])
    assert not any_lake.exists(LISTED[0])
    any_lake.delete(LISTED[0])  # already gone: fine
    any_lake.delete("nothing/at/all.parquet")
    assert any_lake.list_files(HOUR17) == [LISTED[1]]

    any_lake.delete_tree("events/date=2026-11-29")  # hidden and other files included
    assert not any_lake.exists("events/date=2026-11-29")
    assert not any_lake.exists(f"{HOUR17}/.hidden.parquet")
    assert any_lake.list_dirs("events") == [
        "date=2026-11-2",
        "date=2026-11-30",
        "other",
    ]
    any_lake.delete_tree("events/date=2026-11-2")  # not date=2026-11-30, whose name it begins
    assert any_lake.list_files("events") == LISTED[3:]
    any_lake.delete_tree("nothing")
    assert any_lake.list_files("") == sorted([*LISTED[3:], *ELSEWHERE])
    for whole in ("", "/"):
        assert "refusing" in str(error_of(lambda: any_lake.delete_tree(whole)))  # noqa: B023
    assert any_lake.list_files("") == sorted([*LISTED[3:], *ELSEWHERE])


@pytest.mark.parametrize("path", ["../x.parquet", "events/../../x.parquet", "a/../b", "/etc/x"])
def test_paths_outside_the_lake_are_refused(any_lake: Lake, path: str) -> None:
    actions: list[Callable[[], object]] = [
        lambda: any_lake.uri(path),
        lambda: any_lake.exists(path),
        lambda: any_lake.commit_bytes(path, b"x"),
        lambda: any_lake.commit_parquet(path, pa.table({"x": [1]})),
        lambda: any_lake.read_bytes(path),
        lambda: any_lake.read_table(path),
        lambda: any_lake.size(path),
        lambda: any_lake.list_files(path),
        lambda: any_lake.list_dirs(path),
        lambda: any_lake.delete(path),
        lambda: any_lake.delete_tree(path),
    ]
    for action in actions:
        assert "outside lake" in str(error_of(action))
    assert any_lake.list_files("", "") == []


def test_exclusive_commits_have_one_winner(any_lake: Lake) -> None:
    rel = "compaction/superseded/date=2026-11-29/hour=17/000001.json"
    any_lake.commit_bytes(rel, b"first", exclusive=True)
    with pytest.raises(CommitConflictError, match="exists already"):
        any_lake.commit_bytes(rel, b"second", exclusive=True)
    assert any_lake.read_bytes(rel) == b"first"
    parquet = f"{HOUR17}/snapshotted-000001-0123abcd.parquet"
    any_lake.commit_parquet(parquet, pa.table({"x": [1, 2]}), exclusive=True)
    with pytest.raises(CommitConflictError):
        any_lake.commit_parquet(parquet, pa.table({"x": [3]}), exclusive=True)
    assert any_lake.read_table(parquet).column("x").to_pylist() == [1, 2]
    # a plain commit replaces (a WAL replay commits the same name again)
    any_lake.commit_bytes(rel, memoryview(b"replaced"))
    assert any_lake.read_bytes(rel) == b"replaced" and any_lake.size(rel) == 8
    assert any_lake.list_files("", "") == sorted([rel, parquet])


# --- failures on S3: what the user reads ---------------------------------------------------


def test_a_wrong_secret_is_refused_without_showing_it(s3_server: SeaweedS3, s3_bucket: str) -> None:
    lake_on(s3_server, s3_bucket).commit_bytes("kept.json", b"kept")
    canary = f"wrong-secret-{uuid.uuid4().hex}"
    lake = lake_on(s3_server, s3_bucket, secret=canary)
    assert canary not in repr(lake) and canary not in repr(lake.s3_options)
    actions: list[Callable[[], object]] = [
        lake.ensure,
        lambda: lake.commit_bytes("intruder.json", b"x"),
        lambda: lake.list_files(""),
        lambda: lake.list_dirs(""),
        lambda: lake.exists("kept.json"),
        lambda: lake.read_bytes("kept.json"),
        lambda: lake.size("kept.json"),
        lambda: queries.connect(lake),
    ]
    for action in actions:
        error = error_of(action)
        assert "the object store refused the credentials (local SeaweedFS key)" in str(error)
        assert "AWS_ACCESS_KEY_ID" in str(error)  # what to check
        assert canary not in shown(error)
    assert lake_on(s3_server, s3_bucket).list_files("", "") == ["kept.json"]


def test_a_missing_bucket_is_named(s3_server: SeaweedS3) -> None:
    bucket = f"missing-{uuid.uuid4().hex}"  # no hint in the name that it is a bucket
    lake = lake_on(s3_server, bucket)
    actions: list[Callable[[], object]] = [
        lake.ensure,
        lake.require_readable,
        lambda: lake.commit_bytes("a.json", b"x"),
        lambda: lake.commit_parquet(f"{HOUR17}/a.parquet", pa.table({"x": [1]})),
        lambda: lake.list_files("events"),
        lambda: lake.list_dirs(""),
        lambda: lake.exists("a.json"),
        lambda: queries.connect(lake),
    ]
    for action in actions:
        message = str(error_of(action))
        assert f"bucket {bucket!r} does not exist at {s3_server.endpoint}" in message, message
        assert "create it" in message


def test_a_store_that_does_not_answer(s3_server: SeaweedS3, s3_bucket: str) -> None:
    lake = lake_on(s3_server, s3_bucket)
    before = [f"{HOUR17}/ing-0-00000001.parquet", "compaction/superseded/x.json"]
    lake.commit_parquet(before[0], pa.table({"x": [1, 2, 3]}))
    lake.commit_bytes(before[1], b"manifest")
    # "403" in a key (a sequence number) must not read as a refusal of the credentials
    during = f"{HOUR17}/ing-0-00000403.parquet"
    s3_server.stop()
    try:
        actions: list[Callable[[], object]] = [
            lambda: lake.commit_parquet(during, pa.table({"x": [4]})),
            lambda: lake.list_files("events"),
            lambda: lake.read_bytes(before[1]),
        ]
        for action in actions:
            message = str(error_of(action))
            assert f"the object store at {s3_server.endpoint} does not answer" in message, message
            assert "check that it runs and --s3-endpoint / TASQLAKE_S3_ENDPOINT" in message
            assert "credentials" not in message
    finally:
        s3_server.start()
    assert lake.list_files("", "") == sorted(before)
    assert lake.read_table(before[0]).column("x").to_pylist() == [1, 2, 3]
    assert lake.read_bytes(before[1]) == b"manifest"
    lake.commit_parquet(during, pa.table({"x": [4]}))  # writable again
    assert lake.list_files("events") == sorted([before[0], during])


# --- the same lake on disk and on S3 -------------------------------------------------------

VIEWS = ["queue_stats", "global_stats", "worker_stats", "retry_rates", "tasks"]


def test_compacted_s3_lake_answers_as_the_local_one(
    tmp_path: Path, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    events = stored_history(10, 20, 0.05, 0.1)  # three hours
    local = Lake(tmp_path / "lake").ensure()
    remote = lake_on(s3_server, s3_bucket).ensure()
    for lake in (local, remote):
        fill(lake, events, 3)
        compact_all(lake)
    event_files = remote.list_files(layout.EVENTS_DIR)
    assert len(list(remote.iter_partitions())) == 3
    assert all(f.rpartition("/")[2].startswith(layout.SNAPSHOTTED_PREFIX) for f in event_files)
    assert {layout.snapshot_of(f) for f in event_files} == set(
        remote.list_files(layout.TASK_SNAPSHOTS_DIR)
    )
    links = remote.list_files(layout.chain_dir(layout.CHAIN_HEAD_PART))
    assert len(links) == 3  # a link an hour
    chain = remote.list_files(layout.CHAIN_DIR)
    assert {f.split("/")[1] for f in chain} == set(layout.CHAIN_PARTS)
    assert {f.rpartition("/")[2] for f in chain} == {f.rpartition("/")[2] for f in links}
    assert remote.list_files(layout.MANIFEST_DIR, "") == []  # superseded files purged

    def shape(lake: Lake) -> list[str]:  # every file's directory (names hold random tokens)
        return [f.rpartition("/")[0] for f in lake.list_files("", "")]

    assert shape(remote) == shape(local)

    middle, end = instants_of(events, [0.5, 1.0])
    first = min(e["timestamp"] for e in events)
    since, until = first + timedelta(minutes=20), first + timedelta(hours=2, minutes=10)
    window = WINDOW.format(width="INTERVAL 10 MINUTE")
    with (
        queries.connect(local, as_of=middle) as want,
        queries.connect(remote, as_of=middle) as got,
    ):
        for con in (want, got):
            assert head_end(con) == middle.replace(minute=0, second=0, microsecond=0)
        for view in VIEWS:  # inside the history: a link, then the events of one hour
            expected = view_rows(want, view)
            assert expected and view_rows(got, view) == expected, view
        depth = rows(got, window, since, until)
        assert depth and depth == rows(want, window, since, until)
        # after it, every view (those of the storage aside): the last link alone
        expected_views, views = snapshot_of_views(want, end), snapshot_of_views(got, end)
        assert head_end(got) is not None and head_end(got) == head_end(want)
        assert all(expected_views[view] for view in VIEWS)
        assert views == expected_views


def view_rows(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[Any, ...]]:
    """The rows of ``view``, in a stable order, floats rounded as snapshot_of_views does."""
    found = con.execute(f"SELECT * FROM {view}").fetchall()
    return sorted((tuple(_normal(v) for v in row) for row in found), key=repr)


def test_retention_removes_old_partitions_objects(
    tmp_path: Path, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    events = stored_history(10, 20, 0.0, 0.0)  # three hours
    local = Lake(tmp_path / "lake").ensure()
    remote = lake_on(s3_server, s3_bucket).ensure()
    quarantined = "quarantine/date=2026-11-28/hour=23/ing-0-00000001.parquet"
    for lake in (local, remote):
        fill(lake, events, 2)
        compact_all(lake)
        lake.commit_parquet(quarantined, pa.table({"raw": [b"x"]}))
    hours = sorted({e["timestamp"].replace(minute=0, second=0, microsecond=0) for e in events})
    assert len(hours) >= 3
    cutoff = hours[1] + timedelta(hours=1)  # the first two hours end at or before it
    now = B + timedelta(days=30)
    before = remote.list_files("", "")

    report = prune(remote, now - cutoff, now=now)
    on_disk = prune(local, now - cutoff, now=now)
    assert (report.partitions, report.files) == (on_disk.partitions, on_disk.files)
    gone = {f"date={h:%Y-%m-%d}/hour={h:%H}" for h in hours[:2]} | {"date=2026-11-28/hour=23"}
    assert {"/".join(p.split("/")[-2:]) for p in report.partitions} == gone
    assert report.files > 0 and report.bytes > 0
    for partition in report.partitions:
        assert not remote.exists(partition)
        assert remote.list_files(partition, "") == []
    assert not remote.exists("quarantine")  # its emptied date directory went too
    kept = [f for f in before if not any(f.startswith(f"{p}/") for p in report.partitions)]
    assert remote.list_files("", "") == kept
    for directory in layout.PARTITIONED_DIRS:
        assert list(remote.iter_partitions(directory)) == list(local.iter_partitions(directory))
    assert any(f.startswith(f"{layout.EVENTS_DIR}/") for f in kept)
    assert any(f.startswith(f"{layout.CHAIN_DIR}/") for f in kept)
    assert prune(remote, now - cutoff, now=now).partitions == []  # nothing left to prune


# --- settings ------------------------------------------------------------------------------

KEY_ID = "AKIATASQLAKETEST"


def test_settings_pass_the_keys_and_never_show_them() -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    environ = {
        "TASQLAKE_LAKE": "s3://b/p",
        "TASQLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": canary,
        "AWS_SESSION_TOKEN": f"token-{canary}",
        "HOME": "/nonexistent-home",
    }
    settings = Settings.resolve({}, environ)
    assert settings.lake == "s3://b/p" and settings.s3_endpoint == "http://127.0.0.1:9000"
    for text in (repr(settings), str(settings), str(settings.sources)):
        assert canary not in text and KEY_ID not in text
    lake = Lake.from_settings(settings)
    assert lake.location == "s3://b/p" and canary not in repr(lake)
    options = lake.s3_options
    assert options is not None
    assert (options.access_key_id, options.secret_access_key) == (KEY_ID, canary)
    assert options.session_token == f"token-{canary}"
    assert options.credentials_source == "env"
    assert options.endpoint == "http://127.0.0.1:9000" and options.uses_path_style
    assert options.region == "us-east-1"
    assert canary not in repr(options) and KEY_ID not in repr(options)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("TASQLAKE_S3_ENDPOINT", "ftp://x", "must be an http:// or https:// URL"),
        ("TASQLAKE_S3_ENDPOINT", "ftp://user:pw-{canary}@x", "must be an http:// or https:// URL"),
        ("TASQLAKE_S3_ENDPOINT", "http://user:pw-{canary}@host:9000", "must not hold credentials"),
        ("TASQLAKE_S3_ENDPOINT", "127.0.0.1:9000", "must be an http:// or https:// URL"),
        ("TASQLAKE_LAKE", "gs://x", "a local directory or an s3://BUCKET/PREFIX URL"),
        ("TASQLAKE_LAKE", "s3:///prefix", "must name a bucket"),
    ],
)
def test_bad_lake_or_endpoint_is_a_config_error(name: str, value: str, says: str) -> None:
    canary = uuid.uuid4().hex
    text = value.format(canary=canary)
    flag = "s3_endpoint" if name == "TASQLAKE_S3_ENDPOINT" else "lake"
    for flags, environ in (({}, {name: text}), ({flag: text}, {})):
        with pytest.raises(ConfigError) as info:
            Settings.resolve(flags, environ)
        assert says in str(info.value)
        assert canary not in str(info.value)


CREDENTIALS = """\
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = default-secret

[{profile}]
aws_access_key_id = {key}
aws_secret_access_key = {secret}
"""


def test_keys_from_a_profile_reach_the_store(
    tmp_path: Path, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        CREDENTIALS.format(profile="seaweed", key=s3_server.access_key, secret=s3_server.secret_key)
    )
    (home / ".aws" / "config").write_text(f"[profile seaweed]\nregion = {s3_server.region}\n")
    environ = {
        "TASQLAKE_LAKE": f"s3://{s3_bucket}/lake",
        "TASQLAKE_S3_ENDPOINT": s3_server.endpoint,
        "AWS_PROFILE": "seaweed",
        "HOME": str(home),
    }
    settings = Settings.resolve({}, environ)
    assert s3_server.secret_key not in repr(settings)
    lake = Lake.from_settings(settings)
    options = lake.s3_options
    assert options is not None
    assert (options.access_key_id, options.secret_access_key) == (
        s3_server.access_key,
        s3_server.secret_key,
    )
    assert options.credentials_source == f"profile seaweed in {home / '.aws' / 'credentials'}"
    assert options.region == s3_server.region
    lake.ensure().commit_parquet(f"{HOUR17}/a.parquet", pa.table({"x": [1]}))
    assert lake_on(s3_server, s3_bucket).list_files("events") == [f"{HOUR17}/a.parquet"]


def test_profile_files_named_by_the_environment(tmp_path: Path) -> None:
    credentials = tmp_path / "elsewhere" / "credentials"
    credentials.parent.mkdir()
    credentials.write_text(CREDENTIALS.format(profile="dev", key="DEVKEY", secret="dev-secret"))
    config = tmp_path / "elsewhere" / "config"
    config.write_text("[profile dev]\nregion = eu-west-3\n")
    base = {
        "TASQLAKE_LAKE": "s3://b/p",
        "HOME": str(tmp_path / "empty-home"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(config),
    }

    def options(environ: dict[str, str]) -> S3Options:
        found = Lake.from_settings(Settings.resolve({}, environ)).s3_options
        assert found is not None
        return found

    dev = options({**base, "AWS_PROFILE": "dev"})
    assert (dev.access_key_id, dev.secret_access_key, dev.region) == (
        "DEVKEY",
        "dev-secret",
        "eu-west-3",
    )
    assert dev.endpoint is None and not dev.uses_path_style  # AWS itself
    default = options(base)  # no AWS_PROFILE: the default profile
    assert (default.access_key_id, default.region) == ("DEFAULTKEY", "us-east-1")
    env = {"AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}
    keys = options({**base, "AWS_PROFILE": "dev", **env})
    assert (keys.access_key_id, keys.credentials_source) == ("ENV", "env")  # env keys first
    region = options({**base, "AWS_PROFILE": "dev", "TASQLAKE_S3_REGION": "ap-south-1"})
    assert region.region == "ap-south-1"  # the setting wins over the profile's region

    settings = Settings.resolve({}, {**base, "AWS_PROFILE": "missing"})
    with pytest.raises(ConfigError) as info:
        Lake.from_settings(settings)
    message = str(info.value)
    assert "AWS_PROFILE=missing" in message and str(credentials) in message
    assert "dev-secret" not in message and "default-secret" not in message
