"""Flags shared by several sub-commands, declared once.

Every flag's ``dest`` is the name of a :class:`~tasqlake.schemas.settings.Settings` field and its
default is None, so an unset flag falls through to the environment and then to the default.
"""

from __future__ import annotations

import argparse


def add_lake(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        metavar="DIR|URL",
        help="lake directory, or s3://BUCKET/PREFIX on S3-compatible object storage "
        "(env TASQLAKE_LAKE, default ./lake)",
    )
    s3 = parser.add_argument_group(
        "S3 lake",
        "credentials come from the AWS chain: AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY, else AWS_PROFILE in ~/.aws/credentials and ~/.aws/config",
    )
    s3.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="endpoint of an S3-compatible store: MinIO, SeaweedFS, R2, Ceph (env "
        "TASQLAKE_S3_ENDPOINT, AWS_ENDPOINT_URL; default AWS)",
    )
    s3.add_argument(
        "--s3-region", metavar="NAME", help="region (env TASQLAKE_S3_REGION, AWS_REGION)"
    )
    s3.add_argument(
        "--s3-path-style",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="path-style addressing (env TASQLAKE_S3_PATH_STYLE; default: on with "
        "--s3-endpoint, off on AWS)",
    )


def add_allowed_lateness(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allowed-lateness",
        metavar="DURATION",
        help="how long after a task ended another event of it may still be stamped; the "
        "snapshot chain settles a task that long after its end (env TASQLAKE_ALLOWED_LATENESS, "
        "default 1h, at least 5m; later events are found and reported in late_events)",
    )


def add_redis(parser: argparse.ArgumentParser, *, many_channels: bool) -> None:
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis URL (env TASQLAKE_REDIS_URL, ASYNCTASQ_EVENTS_REDIS_URL, ASYNCTASQ_REDIS_URL; "
        "default redis://localhost:6379)",
    )
    parser.add_argument(
        "--channel",
        dest="channels",
        metavar="NAME",
        action="append" if many_channels else "store",
        help="Pub/Sub channel (env ASYNCTASQ_EVENTS_CHANNEL, default asynctasq:events)"
        + ("; repeat for several" if many_channels else ""),
    )


def add_as_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        metavar="INSTANT",
        help="answer as of this ISO-8601 instant (no zone = UTC); default now",
    )


def add_redact(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redact",
        metavar="POLICY",
        help="what to keep of result/error/traceback: FIELD=ACTION,... with ACTION keep, drop, "
        "hash (sha256), truncate:N or cap:N (N bytes); unnamed fields keep the default "
        "result=cap:65536,error=keep,traceback=truncate:16384 (env TASQLAKE_REDACT)",
    )


def add_max_payload_bytes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-payload-bytes",
        type=int,
        metavar="N",
        help="payloads larger than N bytes are quarantined (env TASQLAKE_MAX_PAYLOAD_BYTES, "
        "default 1048576)",
    )


def add_redis_security(parser: argparse.ArgumentParser) -> None:
    """Redis password file and TLS options (secrets stay out of argv: only file paths)."""
    parser.add_argument(
        "--redis-password-file",
        metavar="FILE",
        help="read the Redis password from FILE instead of the URL "
        "(env TASQLAKE_REDIS_PASSWORD_FILE)",
    )
    parser.add_argument(
        "--redis-tls-ca-file",
        metavar="FILE",
        help="CA bundle to verify the server of a rediss:// URL (env TASQLAKE_REDIS_TLS_CA_FILE; "
        "default: the system's)",
    )
    parser.add_argument(
        "--redis-tls-cert-file",
        metavar="FILE",
        help="TLS client certificate (env TASQLAKE_REDIS_TLS_CERT_FILE)",
    )
    parser.add_argument(
        "--redis-tls-key-file",
        metavar="FILE",
        help="TLS client key (env TASQLAKE_REDIS_TLS_KEY_FILE)",
    )
    parser.add_argument(
        "--no-redis-tls-check-hostname",
        dest="redis_tls_check_hostname",
        action="store_const",
        const=False,
        default=None,
        help="accept a server certificate issued for another host name "
        "(env TASQLAKE_REDIS_TLS_CHECK_HOSTNAME=false; default: checked)",
    )
