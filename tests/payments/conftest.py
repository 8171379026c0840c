"""The payments tests' own set-up. The gateway (``stripe_gateway``, on the session's
``localstripe``) and the API-driven ``scenario`` come from ``tests.support`` (registered in
tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.payments import bill


@pytest.fixture
def billed(scenario, stripe_gateway):
    """A finalized 100.00 USD invoice (January, billed in advance) and its customer."""
    return bill(scenario)
