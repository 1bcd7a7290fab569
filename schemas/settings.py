"""The one settings object of tasqlake.

Filled in this order, first wins: command-line flags > environment (``TASQLAKE_*`` and AsyncTasQ's
own ``ASYNCTASQ_EVENTS_REDIS_URL`` / ``ASYNCTASQ_EVENTS_CHANNEL`` / ``ASYNCTASQ_REDIS_URL``) >
a TOML file (``--config FILE`` or ``TASQLAKE_CONFIG``; top-level keys are the field names) >
defaults. The environment is always passed in (never read from ``os.environ`` here), so tests
inject their own. :attr:`Settings.sources` says where each value came from.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tasqlake.schemas import constants
from tasqlake.schemas.durations import parse_duration
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.redaction import DEFAULT_POLICY_TEXT, RedactionPolicy

#: Environment variables consulted for each setting, in priority order.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "redis_url": ("TASQLAKE_REDIS_URL", "ASYNCTASQ_EVENTS_REDIS_URL", "ASYNCTASQ_REDIS_URL"),
    "channels": ("TASQLAKE_CHANNEL", "ASYNCTASQ_EVENTS_CHANNEL"),
    "streams": ("TASQLAKE_STREAM",),
    "consumer_group": ("TASQLAKE_CONSUMER_GROUP",),
    "stream_claim_idle": ("TASQLAKE_STREAM_CLAIM_IDLE",),
    "stream_batch": ("TASQLAKE_STREAM_BATCH",),
    "lake": ("TASQLAKE_LAKE",),
    "flush_interval": ("TASQLAKE_FLUSH_INTERVAL",),
    "max_batch_events": ("TASQLAKE_MAX_BATCH_EVENTS",),
    "max_payload_bytes": ("TASQLAKE_MAX_PAYLOAD_BYTES",),
    "status_interval": ("TASQLAKE_STATUS_INTERVAL",),
    "wal_dir": ("TASQLAKE_WAL_DIR",),
    "wal_fsync_interval": ("TASQLAKE_WAL_FSYNC_INTERVAL",),
    "ingester_id": ("TASQLAKE_INGESTER_ID",),
    "log_format": ("TASQLAKE_LOG_FORMAT",),
    "redact": ("TASQLAKE_REDACT",),
    "health_check_interval": ("TASQLAKE_HEALTH_CHECK_INTERVAL",),
    "reconnect_max_delay": ("TASQLAKE_RECONNECT_MAX_DELAY",),
    "redis_password_file": ("TASQLAKE_REDIS_PASSWORD_FILE",),
    "redis_tls_ca_file": ("TASQLAKE_REDIS_TLS_CA_FILE",),
    "redis_tls_cert_file": ("TASQLAKE_REDIS_TLS_CERT_FILE",),
    "redis_tls_key_file": ("TASQLAKE_REDIS_TLS_KEY_FILE",),
    "redis_tls_check_hostname": ("TASQLAKE_REDIS_TLS_CHECK_HOSTNAME",),
    "metrics_port": ("TASQLAKE_METRICS_PORT",),
    "metrics_bind": ("TASQLAKE_METRICS_BIND",),
    "unhealthy_after": ("TASQLAKE_UNHEALTHY_AFTER",),
    "export_derived": ("TASQLAKE_EXPORT_DERIVED",),
    "compact_every": ("TASQLAKE_COMPACT_EVERY",),
    "retention": ("TASQLAKE_RETENTION",),
    "allowed_lateness": ("TASQLAKE_ALLOWED_LATENESS",),
    "s3_endpoint": ("TASQLAKE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "s3_region": ("TASQLAKE_S3_REGION",),
    "s3_path_style": ("TASQLAKE_S3_PATH_STYLE",),
    "state_dir": ("TASQLAKE_STATE_DIR",),
}
#: Environment variables of the AWS credentials chain, kept (never shown) for an S3 lake.
AWS_CHAIN_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "HOME",
)


def _positive_float(name: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _positive_int(name: str, raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _channels(name: str, raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    channels = tuple(str(item).strip() for item in items if str(item).strip())
    if not channels:
        raise ConfigError(f"{name} must name at least one channel")
    return channels


def _streams(name: str, raw: Any) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(str(item).strip() for item in items if str(item).strip())


def _lake(name: str, raw: Any) -> str:
    text = _text(name, raw)
    if "://" in text and not text.startswith(("s3://", "file://")):
        raise ConfigError(
            f"{name} must be a local directory or an s3://BUCKET/PREFIX URL, got {text!r}"
        )
    if text.startswith("s3://") and not text.removeprefix("s3://").split("/", 1)[0]:
        raise ConfigError(f"{name} must name a bucket: s3://BUCKET/PREFIX, got {text!r}")
    return text


def _endpoint(name: str, raw: Any) -> str:
    text = _text(name, raw)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{name} must be an http:// or https:// URL of an S3-compatible endpoint, "
            f"got {mask_url(text)!r}"
        )
    if parts.password is not None or parts.username is not None:
        raise ConfigError(
            f"{name} must not hold credentials ({mask_url(text)!r}): use AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY or a profile"
        )
    return text.rstrip("/")


def _redis_url(name: str, raw: Any) -> str:
    url = str(raw)
    if urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"{name} must be a redis://, rediss:// or unix:// URL, got {mask_url(url)!r}"
        )
    try:
        _ = urlsplit(url).port  # raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port: {mask_url(url)!r}") from None
    return url


def _text(name: str, raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        raise ConfigError(f"{name} must not be empty")
    return text


def _optional_text(name: str, raw: Any) -> str | None:
    return None if raw is None or str(raw).strip() == "" else str(raw).strip()


def _log_format(name: str, raw: Any) -> str:
    if raw not in ("text", "json"):
        raise ConfigError(f"{name} must be 'text' or 'json', got {raw!r}")
    return str(raw)


def _redact(name: str, raw: Any) -> str:
    return str(RedactionPolicy.parse(str(raw), where=name))


def _port(name: str, raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a TCP port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise ConfigError(f"{name} must be a TCP port between 0 and 65535, got {raw!r}")
    return value


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _duration_seconds(name: str, raw: Any) -> float:
    """A duration as seconds: a number, or text like 90d / 12h / 30m / 45s."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return _positive_float(name, raw)
    text = str(raw).strip()
    try:
        seconds = float(text)
    except ValueError:
        return parse_duration(text, name).total_seconds()
    return _positive_float(name, seconds)


def _allowed_lateness(name: str, raw: Any) -> float:
    """A duration of at least MIN_ALLOWED_LATENESS_S (5 minutes)."""
    seconds = _duration_seconds(name, raw)
    if seconds < constants.MIN_ALLOWED_LATENESS_S:
        raise ConfigError(
            f"{name} must be at least 5m (queue_stats' throughput window reads only the tasks "
            f"the snapshot chain has not settled), got {raw!r}"
        )
    return seconds


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "redis_url": _redis_url,
    "channels": _channels,
    "streams": _streams,
    "consumer_group": _text,
    "stream_claim_idle": _positive_float,
    "stream_batch": _positive_int,
    "lake": _lake,
    "flush_interval": _positive_float,
    "max_batch_events": _positive_int,
    "max_payload_bytes": _positive_int,
    "status_interval": _positive_float,
    "wal_dir": _optional_text,
    "wal_fsync_interval": _positive_float,
    "ingester_id": _optional_text,
    "log_format": _log_format,
    "redact": _redact,
    "health_check_interval": _positive_float,
    "reconnect_max_delay": _positive_float,
    "redis_password_file": _optional_text,
    "redis_tls_ca_file": _optional_text,
    "redis_tls_cert_file": _optional_text,
    "redis_tls_key_file": _optional_text,
    "redis_tls_check_hostname": _bool,
    "metrics_port": _port,
    "metrics_bind": _text,
    "unhealthy_after": _positive_float,
    "export_derived": _bool,
    "compact_every": _duration_seconds,
    "retention": _duration_seconds,
    "allowed_lateness": _allowed_lateness,
    "s3_endpoint": _endpoint,
    "s3_region": _optional_text,
    "s3_path_style": _bool,
    "state_dir": _optional_text,
}


#: TOML value types accepted per key in a config file (stricter than flags and environment).
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "redis_url": (str,),
    "channels": (str, list),
    "streams": (str, list),
    "consumer_group": (str,),
    "stream_claim_idle": (int, float),
    "stream_batch": (int,),
    "lake": (str,),
    "flush_interval": (int, float),
    "max_batch_events": (int,),
    "max_payload_bytes": (int,),
    "status_interval": (int, float),
    "wal_dir": (str,),
    "wal_fsync_interval": (int, float),
    "ingester_id": (str,),
    "log_format": (str,),
    "redact": (str,),
    "health_check_interval": (int, float),
    "reconnect_max_delay": (int, float),
    "redis_password_file": (str,),
    "redis_tls_ca_file": (str,),
    "redis_tls_cert_file": (str,),
    "redis_tls_key_file": (str,),
    "redis_tls_check_hostname": (bool,),
    "metrics_port": (int,),
    "metrics_bind": (str,),
    "unhealthy_after": (int, float),
    "export_derived": (bool,),
    "compact_every": (str, int, float),
    "retention": (str, int, float),
    "allowed_lateness": (str, int, float),
    "s3_endpoint": (str,),
    "s3_region": (str,),
    "s3_path_style": (bool,),
    "state_dir": (str,),
}
_TYPE_NAMES = {
    str: "a string",
    list: "a list",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}


def read_config_file(path: str) -> dict[str, Any]:
    """Keys and values of a TOML settings file, checked against the known settings."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    for key, value in data.items():
        if key not in _PARSERS:
            known = ", ".join(sorted(_PARSERS))
            raise ConfigError(f"unknown key {key!r} in config file {path} (known keys: {known})")
        expected = _FILE_TYPES.get(key, (str,))
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in expected)
            raise ConfigError(
                f"key {key!r} in config file {path} must be {wanted}, got {type(value).__name__}"
            )
    return data


def mask_url(url: str) -> str:
    """``url`` with any password (and ACL user's password) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]  # as written, even when the port is malformed
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Settings:
    """Everything a tasqlake command needs to know; build it with :meth:`resolve`."""

    redis_url: str = constants.DEFAULT_REDIS_URL
    channels: tuple[str, ...] = (constants.DEFAULT_CHANNEL,)
    #: Redis Streams read in a consumer group (at least once; see ingest/receiving/
    #: stream_receiver.py). With streams and no channel given, nothing is subscribed.
    streams: tuple[str, ...] = ()
    consumer_group: str = constants.DEFAULT_CONSUMER_GROUP
    #: Entries pending this long on another consumer of the group are claimed (seconds).
    stream_claim_idle: float = 60.0
    #: Entries asked for per XREADGROUP.
    stream_batch: int = 10_000
    lake: str = constants.DEFAULT_LAKE
    flush_interval: float = constants.DEFAULT_FLUSH_INTERVAL_S
    max_batch_events: int = constants.DEFAULT_MAX_BATCH_EVENTS
    max_payload_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES
    status_interval: float = constants.DEFAULT_STATUS_INTERVAL_S
    wal_dir: str | None = None
    wal_fsync_interval: float = constants.DEFAULT_WAL_FSYNC_INTERVAL_S
    ingester_id: str | None = None
    log_format: str = "text"
    health_check_interval: float = constants.DEFAULT_HEALTH_CHECK_INTERVAL_S
    reconnect_max_delay: float = constants.DEFAULT_RECONNECT_MAX_DELAY_S
    #: Payload policy for result/error/traceback (see tasqlake.schemas.redaction), normalised text.
    redact: str = DEFAULT_POLICY_TEXT
    #: A file holding the Redis password (instead of putting it in the URL); read at connect.
    redis_password_file: str | None = None
    #: TLS (rediss:// URLs): CA bundle, client certificate and key, hostname checking.
    redis_tls_ca_file: str | None = None
    redis_tls_cert_file: str | None = None
    redis_tls_key_file: str | None = None
    redis_tls_check_hostname: bool = True
    #: Serve Prometheus metrics and /healthz on this port (None: no server; 0: any free port).
    metrics_port: int | None = None
    metrics_bind: str = "127.0.0.1"
    #: /healthz turns unhealthy after this many seconds without a subscription.
    unhealthy_after: float = 30.0
    #: Also export gauges derived from the lake (queue depth, workers, retry rate).
    export_derived: bool = False
    #: Compact closed partitions (and purge superseded files) this often, in seconds (None: off).
    compact_every: float | None = None
    #: Delete hour partitions older than this many seconds, checked hourly (None: keep all).
    retention: float | None = None
    #: The snapshot chain's bound, in seconds: how long after a task's terminal event another
    #: event of that task may still be stamped (see tasqlake.lake.chain).
    allowed_lateness: float = constants.DEFAULT_ALLOWED_LATENESS_S
    #: An S3 lake (lake = s3://bucket/prefix): the endpoint of an S3-compatible store (None:
    #: AWS), its region (None: AWS_REGION, the profile's, else us-east-1), path-style
    #: addressing (None: on when an endpoint is given). Credentials: the AWS chain.
    s3_endpoint: str | None = None
    s3_region: str | None = None
    s3_path_style: bool | None = None
    #: Local directory for an ingester's state when the lake is remote (its WAL, unless
    #: wal_dir says otherwise); None: $XDG_STATE_HOME/tasqlake, else ~/.local/state/tasqlake.
    state_dir: str | None = None
    config_file: str | None = None
    #: Where each value came from: "flag", "env:NAME", "file:PATH" or "default".
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The AWS credentials chain's environment (AWS_CHAIN_VARS): never shown, never compared.
    aws_environment: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def resolve(
        cls, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from ``flags`` (None values are unset) over ``environ`` over the config file
        (flag ``config`` or ``TASQLAKE_CONFIG``) over defaults."""
        flags = flags or {}
        environ = environ or {}
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        config_file = flags.get("config") or environ.get("TASQLAKE_CONFIG") or None
        file_values = read_config_file(config_file) if config_file else {}
        if config_file:
            values["config_file"] = config_file
            sources["config_file"] = "flag" if flags.get("config") else "env:TASQLAKE_CONFIG"
        for name, parse in _PARSERS.items():
            if flags.get(name) is not None:
                values[name] = parse(f"--{name.replace('_', '-')}", flags[name])
                sources[name] = "flag"
                continue
            for var in ENV_VARS.get(name, ()):
                if environ.get(var, "").strip():
                    values[name] = parse(var, environ[var])
                    sources[name] = f"env:{var}"
                    break
            else:
                if name in file_values:
                    values[name] = parse(
                        f"key {name!r} in config file {config_file}", file_values[name]
                    )
                    sources[name] = f"file:{config_file}"
                else:
                    sources[name] = "default"
        if "state_dir" not in values:
            base = environ.get("XDG_STATE_HOME", "").strip() or (
                f"{environ['HOME']}/.local/state" if environ.get("HOME") else "~/.local/state"
            )
            values["state_dir"] = f"{base}/tasqlake"
        aws = {name: environ[name] for name in AWS_CHAIN_VARS if name in environ}
        return cls(**values, sources=sources, aws_environment=aws)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (marked as coming from flags)."""
        sources = {**self.sources, **dict.fromkeys(changes, "flag")}
        return dataclasses.replace(self, **changes, sources=sources)

    @property
    def pubsub_channels(self) -> tuple[str, ...]:
        """The channels to subscribe: none when streams are read and no channel was given."""
        if self.streams and self.sources.get("channels", "default") == "default":
            return ()
        return self.channels

    @property
    def redaction(self) -> RedactionPolicy:
        return RedactionPolicy.parse(self.redact)

    @property
    def masked_redis_url(self) -> str:
        return mask_url(self.redis_url)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={mask_url(v) if f.name == 'redis_url' else v!r}"
            for f in dataclasses.fields(self)
            if f.name not in ("sources", "aws_environment")
            and (v := getattr(self, f.name)) is not None
        )
        return f"Settings({shown})"
