from __future__ import annotations

import pytest

from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings, mask_url


def test_defaults() -> None:
    s = Settings.resolve({}, {})
    assert s.redis_url == "redis://localhost:6379"
    assert s.channels == ("asynctasq:events",)
    assert s.lake == "./lake"
    assert s.sources["lake"] == "default"


def test_asynctasq_environment_works_unchanged() -> None:
    env = {"ASYNCTASQ_REDIS_URL": "redis://q:6379/0", "ASYNCTASQ_EVENTS_CHANNEL": "prod:events"}
    s = Settings.resolve({}, env)
    assert s.redis_url == "redis://q:6379/0"
    assert s.channels == ("prod:events",)
    env["ASYNCTASQ_EVENTS_REDIS_URL"] = "redis://events:6379"
    assert Settings.resolve({}, env).redis_url == "redis://events:6379"
    env["TASQLAKE_REDIS_URL"] = "redis://mine:6379"
    s = Settings.resolve({}, env)
    assert s.redis_url == "redis://mine:6379"
    assert s.sources["redis_url"] == "env:TASQLAKE_REDIS_URL"


def test_flags_win_over_environment() -> None:
    s = Settings.resolve(
        {"lake": "/data/lake", "channels": ["a", "b"], "flush_interval": "0.5"},
        {"TASQLAKE_LAKE": "/elsewhere"},
    )
    assert (s.lake, s.channels, s.flush_interval) == ("/data/lake", ("a", "b"), 0.5)
    assert s.sources["lake"] == "flag"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"flush_interval": "soon"}, "--flush-interval must be a number of seconds, got 'soon'"),
        ({"flush_interval": "0"}, "--flush-interval must be greater than 0, got '0'"),
        ({"max_batch_events": "1.5"}, "--max-batch-events must be a whole number, got '1.5'"),
        ({"redis_url": "http://x"}, "--redis-url must be a redis://, rediss:// or unix:// URL"),
        ({"channels": [" "]}, "--channels must name at least one channel"),
        ({"allowed_lateness": "1m"}, "--allowed-lateness must be at least 5m"),
        ({"allowed_lateness": "soon"}, "--allowed-lateness"),
    ],
)
def test_bad_values_are_exact_errors(flags: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.resolve(flags, {})
    assert str(caught.value).startswith(message)


def test_secrets_are_masked_everywhere() -> None:
    url = "redis://alice:s3cr3t-canary@redis.example:6380/2"
    assert mask_url(url) == "redis://alice:***@redis.example:6380/2"
    s = Settings.resolve({"redis_url": url}, {})
    assert "s3cr3t-canary" not in repr(s)
    assert "s3cr3t-canary" not in s.masked_redis_url
    with pytest.raises(ConfigError) as caught:
        Settings.resolve({"redis_url": "http://u:s3cr3t-canary@h"}, {})
    assert "s3cr3t-canary" not in str(caught.value)


def test_config_file_sits_between_environment_and_defaults(tmp_path) -> None:
    config = tmp_path / "tasqlake.toml"
    config.write_text('lake = "/from/file"\nflush_interval = 2\nchannels = ["a", "b"]\n')
    s = Settings.resolve({"config": str(config)}, {"TASQLAKE_FLUSH_INTERVAL": "3"})
    assert s.lake == "/from/file" and s.sources["lake"] == f"file:{config}"
    assert s.flush_interval == 3.0 and s.sources["flush_interval"] == "env:TASQLAKE_FLUSH_INTERVAL"
    assert s.channels == ("a", "b")
    assert Settings.resolve({}, {"TASQLAKE_CONFIG": str(config)}).lake == "/from/file"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            'lak = "x"\n',
            "unknown key 'lak' in config file {path} (known keys: allowed_lateness, channels,",
        ),
        (
            'flush_interval = "soon"\n',
            "key 'flush_interval' in config file {path} must be an integer or a number, got str",
        ),
        (
            "max_batch_events = 1.5\n",
            "key 'max_batch_events' in config file {path} must be an integer, got float",
        ),
        (
            "flush_interval = -1\n",
            "key 'flush_interval' in config file {path} must be greater than 0",
        ),
        ("lake = \n", "config file {path} is not valid TOML"),
    ],
)
def test_config_file_errors_name_the_key_and_the_file(tmp_path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Settings.resolve({"config": str(config)}, {})
    assert str(caught.value).startswith(message.format(path=config))


def test_missing_config_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.resolve({}, {"TASQLAKE_CONFIG": str(tmp_path / "none.toml")})


def test_allowed_lateness_from_flag_environment_and_default() -> None:
    assert Settings.resolve({}, {}).allowed_lateness == 3600
    env = {"TASQLAKE_ALLOWED_LATENESS": "2h"}
    assert Settings.resolve({}, env).allowed_lateness == 7200
    assert Settings.resolve({"allowed_lateness": "10m"}, env).allowed_lateness == 600
