from __future__ import annotations

import hashlib

import pytest

from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.decode import decode
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.redaction import DEFAULT_POLICY, METADATA_KEY, RedactionPolicy
from tasqlake.schemas.settings import Settings
from tests.schemas.helpers import RECEIVED_US, pack, task_event


def _stored(policy: RedactionPolicy, **fields: object) -> dict:
    raw = pack(task_event(event_type="task_failed", **fields))
    cols = EventColumns(redaction=policy)
    cols.append(raw, decode(raw, RECEIVED_US), RECEIVED_US, "c", "i")
    table = cols.to_table()
    assert table.schema.metadata[METADATA_KEY] == str(policy).encode()
    return table.to_pylist()[0]


def test_default_keeps_error_truncates_traceback_and_caps_result() -> None:
    row = _stored(DEFAULT_POLICY, error="boom", traceback="t" * 20000, result="r" * 70000)
    assert row["error"] == "boom"
    assert row["traceback"] == "t" * 16384
    assert row["result"] is None
    small = _stored(DEFAULT_POLICY, result={"ok": 1})
    assert small["result"] == '{"ok":1}'


def test_every_action() -> None:
    policy = RedactionPolicy.parse("result=drop,error=hash,traceback=truncate:5")
    row = _stored(policy, error="secret", traceback="é" * 10, result={"a": 1})
    assert row["result"] is None
    assert row["error"] == "sha256:" + hashlib.sha256(b"secret").hexdigest()
    assert row["traceback"] == "éé"  # 5 bytes, cut on a character boundary
    assert str(policy) == "result=drop,error=hash,traceback=truncate:5"


def test_empty_error_string_is_not_turned_into_null() -> None:
    assert _stored(RedactionPolicy.parse("error=keep"), error="")["error"] == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("secret=drop", "expected FIELD=ACTION with FIELD one of result, error, traceback"),
        ("result", "expected FIELD=ACTION"),
        ("result=truncate", "action for 'result' must be keep, drop, hash, truncate:N or cap:N"),
        ("error=truncate:0", "action for 'error' must be"),
    ],
)
def test_bad_policies_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RedactionPolicy.parse(text)


def test_policy_is_a_setting() -> None:
    s = Settings.resolve({"redact": "result=drop"}, {})
    assert s.redact == "result=drop,error=keep,traceback=truncate:16384"
    assert s.redaction.action("result").kind == "drop"
    assert (
        Settings.resolve({}, {"TASQLAKE_REDACT": "error=hash"}).redaction.action("error").kind
        == "hash"
    )
