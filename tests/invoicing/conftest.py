"""The invoicing tests' own set-up. The API-driven ``scenario`` comes from
``tests.support.scenario`` (registered in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def smtp(smtp, settings):
    """The real SMTP server on loopback (tests.support.mail), with Acme's sender."""
    settings.DEFAULT_FROM_EMAIL = "billing@acme.test"
    return smtp
