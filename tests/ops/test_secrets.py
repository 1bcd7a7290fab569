"""Redis authentication (password, minimal ACL user, password file), TLS (CA, client
certificate, hostname checking) on private redis-servers, and canary secrets that must never
appear in any output, log line, repr(), lake or WAL file, or ``tasqlake config``."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tasqlake.ingest.receiving.connection import open_connection
from tasqlake.ingest.receiving.receiver import ReceiverConfig
from tasqlake.ingest.receiving.redis_options import RedisOptions
from tasqlake.ingest.service.ingest_service import IngestService
from tasqlake.local_redis import free_port
from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.settings import Settings
from tests.ops.helpers import (
    ADMIN_PASSWORD,
    TASQLAKE,
    IngestProcess,
    RedisServer,
    clean_env,
    healthz,
    http_get,
    wait_until,
)
from tests.ops.test_metrics_health import payloads

CANARY = "canary-" + uuid.uuid4().hex  # the ingester's password
ADMIN_CANARY = ADMIN_PASSWORD  # the admin's (default user's) password: must not leak either
CHANNEL = "asynctasq:events"
#: What the ingester needs, and nothing more (Redis >= 7 resets channels by default).
MINIMAL_ACL = (
    f"user tasqlake on >{CANARY} resetchannels &{CHANNEL} -@all +subscribe +unsubscribe +ping"
)


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    root = tmp_path_factory.mktemp("acl")
    acl = root / "users.acl"
    acl.write_text(f"user default on >{ADMIN_PASSWORD} ~* &* +@all\n{MINIMAL_ACL}\n")
    server = RedisServer(root, ["--aclfile", str(acl)]).start()
    yield server
    server.stop()


def admin(server: RedisServer) -> redis.Redis:
    return redis.Redis(port=server.port, password=ADMIN_PASSWORD)


def run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TASQLAKE, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_minimal_acl_user_ingests_and_stops_cleanly(acl_redis: RedisServer, tmp_path: Path) -> None:
    url = f"redis://tasqlake:{CANARY}@127.0.0.1:{acl_redis.port}"
    lake = tmp_path / "lake"
    ingest = IngestProcess(
        ["--lake", str(lake), "--flush-interval", "0.2", "--status-interval", "0.3"],
        clean_env(TASQLAKE_REDIS_URL=url, TASQLAKE_CHANNEL=CHANNEL),
        tmp_path,
    ).start()
    items = payloads(seed=91, duration=1)
    client = admin(acl_redis)
    for item in items:
        client.publish(CHANNEL, item)
    wait_until(lambda: f"stored={len(items)} " in ingest.log(), 20, "all stored")
    assert ingest.stop() == 0  # UNSUBSCRIBE on stop is allowed too
    assert CANARY not in ingest.log()
    # what the minimal user cannot do: read keys, publish, or subscribe elsewhere
    limited = redis.Redis(port=acl_redis.port, username="tasqlake", password=CANARY)
    for forbidden in (lambda: limited.get("k"), lambda: limited.publish(CHANNEL, b"x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()


def test_refused_credentials_and_channels_are_one_clear_line(
    acl_redis: RedisServer, tmp_path: Path
) -> None:
    wrong = f"redis://tasqlake:{CANARY}-wrong@127.0.0.1:{acl_redis.port}"
    done = run(
        ["ingest", "--lake", str(tmp_path / "a"), "--channel", CHANNEL],
        clean_env(TASQLAKE_REDIS_URL=wrong),
    )
    assert done.returncode == 4
    assert "refused the credentials" in done.stderr and "tasqlake:***@" in done.stderr
    assert CANARY not in done.stderr + done.stdout
    right = f"redis://tasqlake:{CANARY}@127.0.0.1:{acl_redis.port}"
    done = run(
        ["ingest", "--lake", str(tmp_path / "b"), "--channel", "not-allowed"],
        clean_env(TASQLAKE_REDIS_URL=right),
    )
    assert done.returncode == 4, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("tasqlake: error: Redis at redis://tasqlake:***@") and "NOPERM" in last
    assert CANARY not in done.stderr + done.stdout


def test_password_file(acl_redis: RedisServer, tmp_path: Path) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text(CANARY + "\n")
    ingest = IngestProcess(
        ["--lake", str(tmp_path / "lake"), "--redis-password-file", str(secret)],
        clean_env(
            TASQLAKE_REDIS_URL=f"redis://tasqlake@127.0.0.1:{acl_redis.port}",
            TASQLAKE_CHANNEL=CHANNEL,
        ),
        tmp_path,
    ).start()
    assert ingest.stop() == 0
    assert CANARY not in ingest.log()


# --- TLS -------------------------------------------------------------------------------------
def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(root: Path) -> None:
    """A CA; a server certificate for localhost only; a client certificate; all signed by it."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=root,
    )
    for name, subject, ext in (
        ("server", "/CN=localhost", "subjectAltName=DNS:localhost"),
        ("client", "/CN=tasqlake", "extendedKeyUsage=clientAuth"),
    ):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=root,
        )
        (root / f"{name}.ext").write_text(ext + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
            cwd=root,
        )


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    root = tmp_path_factory.mktemp("tls")
    make_certificates(root)
    server = RedisServer(
        root,
        [
            "--tls-cert-file",
            str(root / "server.crt"),
            "--tls-key-file",
            str(root / "server.key"),
            "--tls-ca-cert-file",
            str(root / "ca.crt"),
            "--tls-auth-clients",
            "yes",
            "--requirepass",
            ADMIN_PASSWORD,
        ],
        tls=True,
    )
    try:
        server.start()
    except AssertionError:
        pytest.skip("this redis-server was built without TLS")
    yield server, root
    server.stop()


def tls_args(root: Path, *, ca: bool = True, client: bool = True) -> list[str]:
    args = ["--redis-tls-ca-file", str(root / "ca.crt")] if ca else []
    if client:
        args += [
            "--redis-tls-cert-file",
            str(root / "client.crt"),
            "--redis-tls-key-file",
            str(root / "client.key"),
        ]
    return args


def test_tls_with_ca_and_client_certificate(
    tls_redis: tuple[RedisServer, Path], tmp_path: Path
) -> None:
    server, root = tls_redis
    channel = f"tls:{uuid.uuid4().hex}"
    url = f"rediss://:{ADMIN_PASSWORD}@localhost:{server.port}"
    ingest = IngestProcess(
        [
            "--lake",
            str(tmp_path / "lake"),
            "--channel",
            channel,
            "--flush-interval",
            "0.2",
            "--status-interval",
            "0.3",
            *tls_args(root),
        ],
        clean_env(TASQLAKE_REDIS_URL=url),
        tmp_path,
    ).start()
    publisher = redis.Redis.from_url(
        url,
        ssl_ca_certs=str(root / "ca.crt"),
        ssl_certfile=str(root / "client.crt"),
        ssl_keyfile=str(root / "client.key"),
    )
    items = payloads(seed=92, duration=1)
    for item in items:
        publisher.publish(channel, item)
    wait_until(lambda: f"stored={len(items)} " in ingest.log(), 20, "all stored over TLS")
    assert ingest.stop() == 0
    assert ADMIN_PASSWORD not in ingest.log()


def test_tls_failures_are_clear(tls_redis: tuple[RedisServer, Path], tmp_path: Path) -> None:
    server, root = tls_redis
    lake = ["--lake", str(tmp_path / "lake"), "--channel", "tls:x"]
    localhost = f"rediss://:{ADMIN_PASSWORD}@localhost:{server.port}"
    by_ip = f"rediss://:{ADMIN_PASSWORD}@127.0.0.1:{server.port}"  # not in the certificate

    done = run(
        ["ingest", *lake, *tls_args(root, ca=False)], clean_env(TASQLAKE_REDIS_URL=localhost)
    )
    assert done.returncode == 4
    assert "TLS certificate was not accepted" in done.stderr, done.stderr

    done = run(["ingest", *lake, *tls_args(root)], clean_env(TASQLAKE_REDIS_URL=by_ip))
    assert done.returncode == 4
    assert "TLS certificate was not accepted" in done.stderr, done.stderr
    assert "host name" in done.stderr

    done = run(
        ["ingest", *lake, *tls_args(root, client=False)], clean_env(TASQLAKE_REDIS_URL=localhost)
    )
    assert done.returncode == 4, done.stderr

    plain = f"redis://:{ADMIN_PASSWORD}@localhost:{server.port}"
    done = run(["ingest", *lake, *tls_args(root)], clean_env(TASQLAKE_REDIS_URL=plain))
    assert done.returncode == 2
    assert "need a rediss:// URL" in done.stderr
    for output in (done.stderr, done.stdout):
        assert ADMIN_PASSWORD not in output


def test_hostname_checking_can_be_turned_off(
    tls_redis: tuple[RedisServer, Path], tmp_path: Path
) -> None:
    server, root = tls_redis
    ingest = IngestProcess(
        [
            "--lake",
            str(tmp_path / "lake"),
            "--channel",
            "tls:y",
            "--no-redis-tls-check-hostname",
            *tls_args(root),
        ],
        clean_env(TASQLAKE_REDIS_URL=f"rediss://:{ADMIN_PASSWORD}@127.0.0.1:{server.port}"),
        tmp_path,
    ).start()
    assert ingest.stop() == 0


# --- canaries --------------------------------------------------------------------------------
def test_canary_secrets_appear_nowhere(acl_redis: RedisServer, tmp_path: Path) -> None:
    url = f"redis://tasqlake:{CANARY}@127.0.0.1:{acl_redis.port}"
    admin_url = f"redis://default:{ADMIN_CANARY}@127.0.0.1:{acl_redis.port}"
    lake, stream = tmp_path / "lake", tmp_path / "stream.msgpack"
    config = tmp_path / "tasqlake.toml"
    config.write_text(
        f'redis_url = "{url}"\nchannels = ["{CHANNEL}"]\nlake = "{lake}"\n'
        'flush_interval = 0.2\nstatus_interval = 0.3\nlog_format = "json"\n'
    )
    outputs: list[str] = []
    by_file = clean_env(TASQLAKE_CONFIG=str(config))
    by_env = clean_env(TASQLAKE_REDIS_URL=url, TASQLAKE_LAKE=str(lake))

    port = free_port()
    ingest = IngestProcess(["--metrics-port", str(port), "--export-derived"], by_file, tmp_path)
    ingest.start()
    done = run(
        [
            "simulate",
            "--redis-url",
            admin_url,
            "--channel",
            CHANNEL,
            "--rate",
            "300",
            "--duration",
            "1",
            "--fast",
        ],
        clean_env(),
    )
    outputs += [done.stdout, done.stderr]
    wait_until(
        lambda: '"stored": ' in ingest.log() and "stored=0 " not in ingest.log().splitlines()[-1],
        20,
        "events stored",
    )
    outputs += [http_get(f"http://127.0.0.1:{port}/metrics")[1], str(healthz(port)[1])]
    assert ingest.stop() == 0
    outputs += [ingest.log(), ingest.output()]

    for args, env in (
        (["simulate", "--out", str(stream), "--duration", "2", "--rate", "100"], by_env),
        (["import", str(stream)], by_env),
        (["import", str(stream)], by_file),
        (["sql", "SELECT count(*) FROM events"], by_file),
        (["stats", "--format", "json"], by_env),
        (["stats"], by_file),
        (["config"], by_file),
        (["config", "--format", "json"], by_env),
        (["config", "--redis-url", url], clean_env()),
        (["ingest", "--redis-url", url.replace("127.0.0.1", "127.0.0.1:1")], clean_env()),
        (
            [
                "ingest",
                "--lake",
                str(tmp_path / "x"),
                "--redis-url",
                f"redis://u:{CANARY}@127.0.0.1:1",
            ],
            clean_env(),
        ),
        (
            [
                "demo",
                "--redis-url",
                admin_url,
                "--duration",
                "1",
                "--rate",
                "100",
                "--lake",
                str(tmp_path / "demo-lake"),
            ],
            clean_env(),
        ),
    ):
        done = run(args, env)
        outputs += [done.stdout, done.stderr]
        expected = 0 if args[0] != "ingest" else 2 if "127.0.0.1:1:" in args[-1] else 4
        assert done.returncode == expected, (args, done.stderr)
    assert "***@" in "".join(outputs)  # the URLs were shown, masked

    settings = Settings.resolve({"config": str(config)}, {})
    objects = [
        settings,
        IngestService(settings),
        ReceiverConfig(url, (CHANNEL,), options=RedisOptions.from_settings(settings)),
        RedisOptions.from_settings(settings),
    ]
    connection = open_connection(url)
    objects.append(connection)
    with pytest.raises(BrokerError) as refused:
        open_connection(url.replace(CANARY, CANARY + "x"))
    outputs += [repr(o) for o in objects] + [str(refused.value)]
    connection.close()

    for text in outputs:
        assert CANARY not in text and ADMIN_CANARY not in text
    stored = [p for root in (lake, tmp_path / "demo-lake") for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in stored)
    for path in stored:  # Parquet data and metadata, WAL segments and state, markers
        data = path.read_bytes()
        assert CANARY.encode() not in data and ADMIN_CANARY.encode() not in data, path
