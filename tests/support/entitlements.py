"""What the entitlements tests share: features and product grants written through the API,
and a clock the tests move (``timezone.now`` replaced, never a sleep)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone


class Clock:
    """``clock.at(moment)``: from now on, ``timezone.now()`` is ``moment`` (an aware
    datetime) everywhere -- the API, the services, the event window."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch

    def at(self, moment: datetime) -> datetime:
        self._monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def feature(scenario, key, kind, meter="", **fields) -> dict:
    body = {"key": key, "name": key.replace("_", " ").title(), "kind": kind, **fields}
    if meter:
        body["meter_key"] = meter
    return scenario.post("features", body)


def include(scenario, product_id, feature_key, status=200, **fields) -> dict:
    return scenario.post(f"products/{product_id}/features", {"feature": feature_key, **fields},
                         status=status)


def check(scenario, customer, feature_key, **params) -> dict:
    return scenario.get("entitlements/check", customer=customer, feature=feature_key, **params)


def consume(scenario, customer, feature_key, amount, key, status=200, **fields) -> dict:
    return scenario.post("entitlements/consume", {"customer": customer, "feature": feature_key,
                                                  "amount": amount, "key": key, **fields},
                         status=status)
