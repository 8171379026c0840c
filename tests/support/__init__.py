"""What the tests share, in one place: helpers, factories and fixtures.

A module under tests/ imports from the ``tests`` package only ``tests.support`` -- never a
test module, never a conftest (``tests/test_layout.py`` fails the build when one does). The
fixtures defined here reach every test through ``pytest_plugins`` in ``tests/conftest.py``.

- ``scenario.py``: the API-driven billing scenario (fixture ``scenario``), ``flat`` price
  items and the contracts several scenarios share;
- ``factories.py``: factory_boy factories, every related object in one organization;
- ``payments.py``: the Stripe emulator and a tenant's gateway on it (fixtures
  ``localstripe``, ``stripe_gateway``), saved cards, invoices to collect, signed webhooks;
- ``checkout.py``: the hosted checkout page, through the test client;
- ``invoices.py``: a finalized invoice for the rendering tests, and PDF text;
- ``mail.py``: a real SMTP server on loopback (fixture ``smtp``) and readers of its mail;
- ``webhooks.py``: a webhook receiver on loopback (fixture ``receiver``), a Standard Webhooks
  verifier written from the specification, beat's webhook tasks run by hand;
- ``browser.py``: the session's Chromium (fixtures ``browser``, ``page``, ``artifacts``)
  and signing in through the login page;
- ``tenants.py``: ``Tenant``, an organization with an API client per role (fixture
  ``tenant`` in tests/conftest.py);
- ``world.py``: an organization with one object of every kind the API addresses, built once
  per test module (fixtures ``world``, ``world_tenant``, ``wsgi_calls``), for the generated
  API tests;
- ``contracts.py``, ``metering.py``, ``concurrency.py``: a contract document, a tenant's
  warehouse and sync runs, and threads racing each other;
- ``audit.py``: an organization's audit events as a test reads them, and the test database's
  flush past the audit trail's refusal of TRUNCATE (fixture ``flush_past_the_audit_trail``);
- ``error_urls.py``: the project's URL table plus a page and an API path that fail with a
  bug, for the error-page tests (``@pytest.mark.urls``).
"""

from __future__ import annotations

import socket

import pytest

PASSWORD = "correct-horse-battery"  # every test user's, unless a test gives another

# Tests that commit (a worker process or a browser must see the rows) flush through the owner
# alias: the application role may not TRUNCATE, and must not.
COMMITTING = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def free_port() -> int:
    """A TCP port nothing listens on, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
