"""Loaded at start-up by a Python whose PYTHONPATH begins with this folder (the CLI-worker test).

``asynctasq worker`` cannot set the heartbeat interval (60 s), so a test that wants to see
``worker_heartbeat`` within seconds shortens the default of AsyncTasQ's ``Worker`` here, to
``TASQLAKE_TEST_HEARTBEAT_S`` seconds. Nothing else of the worker changes.
"""

from __future__ import annotations

import os
from typing import Any

_interval = os.environ.get("TASQLAKE_TEST_HEARTBEAT_S")
if _interval:
    from asynctasq.core.worker import Worker

    _original_init = Worker.__init__

    def _init(self: Worker, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("heartbeat_interval", float(_interval))
        _original_init(self, *args, **kwargs)

    Worker.__init__ = _init  # type: ignore[method-assign]
