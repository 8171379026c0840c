"""Fixtures shared by the security tests: a real SMTP server on loopback, the organization's
owner (by API session), the API's rates, and a clock the rate limits read."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.mail import PUBLIC_URL
from zenskar.core import ratelimit
from zenskar.tenancy.models import Membership, Role


@pytest.fixture
def smtp(smtp, settings):
    """The real SMTP server on loopback (tests.support.mail), with this suite's sender and
    links."""
    settings.DEFAULT_FROM_EMAIL = "billing@zenskar.test"
    settings.PUBLIC_URL = PUBLIC_URL
    return smtp


@pytest.fixture
def owner(tenant):
    """The user who owns ``tenant``'s organization (it has one owner when made)."""
    return Membership.objects.get(organization=tenant.organization, role=Role.OWNER).user


@pytest.fixture
def owner_api(owner):
    """The API as the owner, through a dashboard session (API keys are never owners)."""
    client = APIClient()
    client.force_login(owner)
    return client


@pytest.fixture
def rates(settings):
    """``rates(api_key="3/min", address=..., auth_failures=...)``: the API's rates for this
    test; the scopes not named keep the suite's (very high) ones."""

    def set_rates(**scopes: str) -> None:
        current = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {**current, **scopes}}

    return set_rates


class Clock:
    """The time the rate limits read, moved by hand: it starts 10 s into an hour (so 10 s
    into a minute and into a 15-minute window too)."""

    def __init__(self):
        self.moment = 1_800_000_000 - 1_800_000_000 % 3600 + 10.0

    def __call__(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += seconds


@pytest.fixture
def clock(monkeypatch):
    moment = Clock()
    monkeypatch.setattr(ratelimit, "now", moment)
    return moment
