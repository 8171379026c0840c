"""Fixtures of the entitlements tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def requests_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Each API request of these tests behaves as if it committed: what it leaves for after
    the commit (Redis counters moved, cached grants dropped) runs when it returns. The
    test's own transaction never commits, so without this the hot path would never move."""
    generic = APIClient.generic

    def committing(self, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return generic(self, *args, **kwargs)

    monkeypatch.setattr(APIClient, "generic", committing)
