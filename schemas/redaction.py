"""What is kept of the sensitive payload fields: ``result``, ``error`` and ``traceback``.

A policy maps each field to an action: ``keep``, ``drop``, ``hash`` (SHA-256 hex, so equal values
still group), ``truncate:N`` (the first N bytes of UTF-8 text) or ``cap:N`` (kept whole when at
most N bytes, dropped otherwise). It is written ``result=drop,traceback=truncate:4096`` on the
command line or in the config file. The policy in force is stored in each committed file's
Parquet metadata (``tasqlake.redaction``) next to the data it was applied to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tasqlake.schemas.errors import ConfigError

FIELDS = ("result", "error", "traceback")
METADATA_KEY = b"tasqlake.redaction"
DEFAULT_POLICY_TEXT = "result=cap:65536,error=keep,traceback=truncate:16384"


@dataclass(frozen=True, slots=True)
class FieldAction:
    kind: str  # keep | drop | hash | truncate | cap
    limit: int = 0

    def __str__(self) -> str:
        return f"{self.kind}:{self.limit}" if self.kind in ("truncate", "cap") else self.kind

    def apply(self, value: str | None) -> str | None:
        if value is None or self.kind == "keep":
            return value
        if self.kind == "drop":
            return None
        if self.kind == "hash":
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        encoded = value.encode()
        if len(encoded) <= self.limit:
            return value
        if self.kind == "cap":
            return None
        return encoded[: self.limit].decode(errors="ignore")


def _parse_action(name: str, text: str, where: str) -> FieldAction:
    kind, _, limit = text.strip().partition(":")
    if kind in ("keep", "drop", "hash") and not limit:
        return FieldAction(kind)
    if kind in ("truncate", "cap") and limit.isdigit() and int(limit) > 0:
        return FieldAction(kind, int(limit))
    raise ConfigError(
        f"{where}: action for {name!r} must be keep, drop, hash, truncate:N or cap:N "
        f"(N bytes > 0), got {text!r}"
    )


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """Actions per sensitive field; fields not named keep the default action."""

    actions: dict[str, FieldAction] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, where: str = "--redact") -> RedactionPolicy:
        """Parse ``field=action,…`` over the default policy."""
        actions = dict(DEFAULT_POLICY.actions)
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, action = item.partition("=")
            name = name.strip()
            if not sep or name not in FIELDS:
                raise ConfigError(
                    f"{where}: expected FIELD=ACTION with FIELD one of {', '.join(FIELDS)}, "
                    f"got {item!r}"
                )
            actions[name] = _parse_action(name, action, where)
        return cls(actions)

    def action(self, name: str) -> FieldAction:
        return self.actions.get(name, KEEP)

    def __str__(self) -> str:
        return ",".join(f"{name}={self.action(name)}" for name in FIELDS)

    @property
    def is_identity(self) -> bool:
        return all(self.action(name).kind == "keep" for name in FIELDS)


KEEP = FieldAction("keep")
DEFAULT_POLICY = RedactionPolicy(
    {
        "result": FieldAction("cap", 65536),
        "error": KEEP,
        "traceback": FieldAction("truncate", 16384),
    }
)
