"""How to authenticate to and encrypt the connection to Redis, besides what the URL says.

The URL carries the user and password (``redis://user:password@host``) and the scheme chooses
TLS (``rediss://``). These options add what a URL cannot carry well: a password kept in a file
(a systemd credential, a Kubernetes secret), the CA bundle, a client certificate and key, and
hostname checking (on unless turned off). No secret is held here, only file paths, so ``repr()``
of this object is safe to log; the password file is read at each connect.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasqlake.schemas.errors import BrokerError, ConfigError
from tasqlake.schemas.settings import Settings


@dataclass(frozen=True)
class RedisOptions:
    password_file: str | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_check_hostname: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisOptions:
        options = cls(
            password_file=settings.redis_password_file,
            tls_ca_file=settings.redis_tls_ca_file,
            tls_cert_file=settings.redis_tls_cert_file,
            tls_key_file=settings.redis_tls_key_file,
            tls_check_hostname=settings.redis_tls_check_hostname,
        )
        options.check(settings.redis_url)
        return options

    @property
    def uses_tls_files(self) -> bool:
        return any((self.tls_ca_file, self.tls_cert_file, self.tls_key_file))

    def check(self, url: str) -> None:
        """ConfigError when the options contradict the URL or name missing files."""
        scheme = urlsplit(url).scheme
        if scheme != "rediss" and (self.uses_tls_files or not self.tls_check_hostname):
            raise ConfigError(
                "the Redis TLS settings (CA file, client certificate/key, hostname checking) "
                f"need a rediss:// URL, got a {scheme}:// URL"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError(
                "a TLS client certificate needs both redis_tls_cert_file and redis_tls_key_file"
            )
        for what, path in (
            ("redis_password_file", self.password_file),
            ("redis_tls_ca_file", self.tls_ca_file),
            ("redis_tls_cert_file", self.tls_cert_file),
            ("redis_tls_key_file", self.tls_key_file),
        ):
            if path is not None and not Path(path).expanduser().is_file():
                raise ConfigError(f"{what} {path} does not exist or is not a file")

    def pool_kwargs(self, url: str) -> dict[str, Any]:
        """Keyword arguments for ``redis.ConnectionPool.from_url(url, ...)``."""
        kwargs: dict[str, Any] = {}
        if self.password_file is not None:
            kwargs["password"] = read_password(self.password_file)
        if urlsplit(url).scheme == "rediss":
            kwargs["ssl_check_hostname"] = self.tls_check_hostname
            kwargs["ssl_cert_reqs"] = "required"
            if self.tls_ca_file:
                kwargs["ssl_ca_certs"] = str(Path(self.tls_ca_file).expanduser())
            if self.tls_cert_file and self.tls_key_file:
                kwargs["ssl_certfile"] = str(Path(self.tls_cert_file).expanduser())
                kwargs["ssl_keyfile"] = str(Path(self.tls_key_file).expanduser())
        return kwargs


def read_password(path: str) -> str:
    """The password in ``path`` (first line, without its line break)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as error:
        raise BrokerError(
            f"cannot read the Redis password file {path}: {error.strerror or error}"
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise BrokerError(f"the Redis password file {path} is empty")
    return lines[0]


def tls_hint(error: BaseException) -> str | None:
    """What to check when ``error`` (or its cause) is a TLS failure; None otherwise."""
    seen: BaseException | None = error
    text = ""
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                "the server's TLS certificate was not accepted "
                f"({seen.verify_message or seen.reason}): check redis_tls_ca_file and that the "
                "URL's host name is in the certificate"
            )
        text += f" {seen}"
        seen = seen.__cause__ or seen.__context__
    lowered = text.lower()
    if "certificate verify failed" in lowered or "hostname mismatch" in lowered:
        return (
            "the server's TLS certificate was not accepted: check redis_tls_ca_file and that "
            "the URL's host name is in the certificate"
        )
    if "ssl" in lowered or "tls" in lowered or "wrong version number" in lowered:
        return "the TLS handshake failed: check that the server speaks TLS on this port"
    return None
