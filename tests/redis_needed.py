"""What a test that needs Redis does when it finds none: skip on a developer's machine, fail in
CI (``CI=true``), where .ci/run makes sure a Redis answers, so that a missing Redis never
passes there as a row of skips."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def no_redis(reason: str) -> NoReturn:
    """Skip the running test for ``reason``, or fail it when ``CI`` is ``true``."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a test that needs Redis fails, not skips)", pytrace=False)
    pytest.skip(reason)
