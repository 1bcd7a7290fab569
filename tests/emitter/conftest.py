"""Fixtures of the emitter tests: a private Redis per module, and AsyncTasQ's process-global
state (its ``Config`` singleton, the ``EventRegistry``, the ``ASYNCTASQ_*`` environment, what
``tasqlake.emitter.install`` did) put back after every test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from asynctasq.config import Config
from asynctasq.monitoring import EventRegistry

from tasqlake import emitter as emitter_module
from tasqlake.local_redis import private_redis
from tasqlake.schemas.errors import BrokerError
from tests.redis_needed import no_redis


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throw-away redis-server for the module's tests."""
    try:
        with private_redis() as url:
            yield url
    except BrokerError as error:
        no_redis(str(error))


@pytest.fixture(autouse=True)
def clean_asynctasq(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``ASYNCTASQ_*``/``TASQLAKE_EVENTS_*`` variable of the caller's environment leaks in;
    AsyncTasQ's config and registry, and the emitter module's install state, are restored."""
    for name in list(os.environ):
        if name.startswith(("ASYNCTASQ_", "TASQLAKE_EVENTS_")):
            monkeypatch.delenv(name)
    saved = (Config._instance, set(EventRegistry._emitters), EventRegistry._disabled)
    Config._instance = None
    try:
        yield
    finally:
        emitter_module.uninstall()
        emitter_module._warned_disabled = False
        Config._instance, EventRegistry._emitters, EventRegistry._disabled = saved
