"""Fixtures for the schemas tests (helpers in tests/schemas/helpers.py)."""

from __future__ import annotations

import pytest

from tests.schemas.helpers import RECEIVED_US


@pytest.fixture
def received_us() -> int:
    return RECEIVED_US
