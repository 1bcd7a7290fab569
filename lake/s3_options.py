"""Where an S3 lake is and how to reach it: ``s3://bucket/prefix``, endpoint, region, addressing,
and credentials from the standard AWS chain.

Credentials come, in this order, from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), then from the profile ``AWS_PROFILE`` (else
``default``) of the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, else
``~/.aws/credentials``) and of the config file (``AWS_CONFIG_FILE``, else ``~/.aws/config``).
When none of them names a key, the object store's own chain runs (instance or container
credentials). The environment is passed in, never read here, so tests inject their own. Secrets
are never part of a repr, a log line or an error message.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tasqlake.schemas.errors import ConfigError

S3_SCHEME = "s3://"
DEFAULT_REGION = "us-east-1"


def is_s3_url(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket[/prefix]`` (the prefix without slashes at its ends)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"lake {url!r} is not an S3 location: write s3://BUCKET or s3://BUCKET/PREFIX"
        )
    prefix = parts.path.strip("/")
    if prefix and any(piece in ("", ".", "..") for piece in prefix.split("/")):
        raise ConfigError(f"lake {url!r}: the prefix may not hold empty, '.' or '..' parts")
    return parts.netloc, prefix


@dataclass(frozen=True)
class S3Options:
    """How to reach the S3-compatible store (everything but the bucket and prefix)."""

    #: Endpoint URL of an S3-compatible store (MinIO, SeaweedFS, R2, Ceph); None: AWS.
    endpoint: str | None = None
    region: str | None = None
    #: Path-style addressing (``endpoint/bucket/key``); None: on when an endpoint is given.
    path_style: bool | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    #: Where the credentials came from ("env", "profile NAME in FILE", or "default chain").
    credentials_source: str = "default chain"

    @property
    def uses_path_style(self) -> bool:
        return self.path_style if self.path_style is not None else self.endpoint is not None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        endpoint: str | None = None,
        region: str | None = None,
        path_style: bool | None = None,
    ) -> S3Options:
        """Options with credentials (and, when not given, the region) from the AWS chain."""
        key, secret, token, profile_region, source = aws_credentials(environ)
        region = (
            region
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
            or profile_region
            or DEFAULT_REGION
        )
        return cls(endpoint, region, path_style, key, secret, token, source)


def aws_credentials(
    environ: Mapping[str, str],
) -> tuple[str | None, str | None, str | None, str | None, str]:
    """``(key id, secret, session token, profile region, source)`` from the AWS chain."""
    key = environ.get("AWS_ACCESS_KEY_ID", "").strip()
    secret = environ.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if key and secret:
        return key, secret, environ.get("AWS_SESSION_TOKEN", "").strip() or None, None, "env"
    if key or secret:
        raise ConfigError(
            "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both, or "
            "neither to use a profile"
        )
    profile = environ.get("AWS_PROFILE", "").strip() or "default"
    home = Path(environ.get("HOME", "~")).expanduser()
    credentials_file = Path(
        environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"
    ).expanduser()
    config_file = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config").expanduser()
    found = _section(credentials_file, profile)
    config = _section(config_file, profile if profile == "default" else f"profile {profile}")
    region = config.get("region")
    file_key = found.get("aws_access_key_id") or config.get("aws_access_key_id")
    file_secret = found.get("aws_secret_access_key") or config.get("aws_secret_access_key")
    if file_key and file_secret:
        token = found.get("aws_session_token") or config.get("aws_session_token")
        where = credentials_file if found.get("aws_access_key_id") else config_file
        return file_key, file_secret, token, region, f"profile {profile} in {where}"
    if environ.get("AWS_PROFILE", "").strip():
        raise ConfigError(
            f"AWS_PROFILE={profile} names no aws_access_key_id/aws_secret_access_key in "
            f"{credentials_file} or {config_file}: add them, or unset AWS_PROFILE"
        )
    return None, None, None, region, "default chain"


def _section(path: Path, name: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError) as error:
        raise ConfigError(f"cannot read AWS file {path}: {error}") from None
    return dict(parser[name]) if parser.has_section(name) else {}
