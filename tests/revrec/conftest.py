"""Fixtures of the ledger tests."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def as_at_commit():
    """``as_at_commit()``: run now the checks the database defers to commit (balanced
    entries, foreign keys) -- a test's transaction never commits, so without this the
    deferred trigger would never see what the test posted."""

    def check() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    return check
