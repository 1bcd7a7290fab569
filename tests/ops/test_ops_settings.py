"""The operations settings: metrics, health threshold, derived export, Redis password file and
TLS — from flags, environment and the TOML file, with exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasqlake.ingest.receiving.redis_options import RedisOptions
from tasqlake.ingest.service.logging_setup import JsonFormatter
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings, mask_url


def test_defaults_are_safe() -> None:
    s = Settings.resolve({}, {})
    assert s.metrics_port is None and s.metrics_bind == "127.0.0.1"
    assert s.export_derived is False and s.unhealthy_after == 30.0
    assert s.redis_tls_check_hostname is True


def test_environment_and_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        "metrics_port = 9464\nexport_derived = true\nredis_tls_check_hostname = false\n"
        'metrics_bind = "0.0.0.0"\nunhealthy_after = 60\n'
    )
    s = Settings.resolve({"config": str(config)}, {"TASQLAKE_METRICS_PORT": "9100"})
    assert (s.metrics_port, s.sources["metrics_port"]) == (9100, "env:TASQLAKE_METRICS_PORT")
    assert s.export_derived is True and s.sources["export_derived"] == f"file:{config}"
    assert (s.redis_tls_check_hostname, s.metrics_bind, s.unhealthy_after) == (
        False,
        "0.0.0.0",
        60.0,
    )
    s = Settings.resolve({}, {"TASQLAKE_EXPORT_DERIVED": "off", "TASQLAKE_METRICS_PORT": "0"})
    assert (s.export_derived, s.metrics_port) == (False, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('export_derived = "yes"', "key 'export_derived' in config file {} must be true or false"),
        (
            "metrics_port = true",
            "key 'metrics_port' in config file {} must be an integer, got bool",
        ),
        ("metrics_port = 70000", "key 'metrics_port' in config file {} must be a TCP port"),
    ],
)
def test_wrong_types_in_the_file_name_key_and_file(
    tmp_path: Path, content: str, message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(content + "\n")
    with pytest.raises(ConfigError) as caught:
        Settings.resolve({"config": str(config)}, {})
    assert str(caught.value).startswith(message.format(config))


def test_bad_flag_values() -> None:
    with pytest.raises(ConfigError, match="TASQLAKE_EXPORT_DERIVED must be true or false"):
        Settings.resolve({}, {"TASQLAKE_EXPORT_DERIVED": "maybe"})
    with pytest.raises(
        ConfigError, match=r"--redis-url has an invalid port: 'redis://u:\*\*\*@h:x'"
    ):
        Settings.resolve({"redis_url": "redis://u:secret@h:x"}, {})
    assert mask_url("redis://u:secret@h:1:2") == "redis://u:***@h:1:2"


def test_tls_options_need_rediss_and_existing_files(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    plain = Settings.resolve({"redis_tls_ca_file": str(ca)}, {})
    with pytest.raises(ConfigError, match="need a rediss:// URL"):
        RedisOptions.from_settings(plain)
    missing = Settings.resolve(
        {"redis_url": "rediss://h", "redis_tls_ca_file": str(tmp_path / "nope")}, {}
    )
    with pytest.raises(ConfigError, match=r"redis_tls_ca_file .*nope does not exist"):
        RedisOptions.from_settings(missing)
    half = Settings.resolve({"redis_url": "rediss://h", "redis_tls_cert_file": str(ca)}, {})
    with pytest.raises(ConfigError, match="needs both"):
        RedisOptions.from_settings(half)
    ok = RedisOptions.from_settings(
        Settings.resolve({"redis_url": "rediss://h", "redis_tls_ca_file": str(ca)}, {})
    )
    assert ok.pool_kwargs("rediss://h") == {
        "ssl_check_hostname": True,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": str(ca),
    }
    assert ok.pool_kwargs("redis://h") == {}


def test_json_log_lines_carry_structured_fields() -> None:
    import json
    import logging

    record = logging.LogRecord(
        "tasqlake.ingest.service.ingest_service", logging.INFO, "f", 1, "status %s", ("x",), None
    )
    record.event = "status"
    record.counters = {"stored": 3}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "status x" and line["counters"] == {"stored": 3}
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")
