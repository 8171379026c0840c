"""Test set-up: a real PostgreSQL test database, migrated as the owner role, used by the
application's own role under row-level security -- exactly as in production.

``make test`` starts the embedded servers when DATABASE_URL/REDIS_URL are unset.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from psycopg import sql
from rest_framework.test import APIClient

from zenskar.core.db import owner_conninfo
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Role

pytest_plugins = ["tests.browser"]  # the session's Chromium: fixtures browser, page, artifacts

PASSWORD = "correct-horse-battery"  # every test user's, unless a test gives another

# Tests that commit (a worker process or a browser must see the rows) flush through the owner
# alias: the application role may not TRUNCATE, and must not.
COMMITTING = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    # One database per test process, so two runs on one server never drop each other's.
    prefix = f"test_{settings.DATABASES['owner']['NAME']}_"
    name = f"{prefix}{os.getpid()}"
    with psycopg.connect(owner_conninfo("postgres"), autocommit=True) as conn:
        stale = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]
        ).fetchall()
        for (stale_name,) in stale:
            pid = stale_name.removeprefix(prefix)
            if pid.isdigit() and not _alive(int(pid)):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(stale_name)
                    )
                )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for alias in ("default", "owner"):
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name
        settings.DATABASES[alias]["NAME"] = name
    with django_db_blocker.unblock():
        call_command("migrate", database="owner", verbosity=0, interactive=False)
    yield name
    for alias in ("default", "owner"):
        connections[alias].close()
    with psycopg.connect(owner_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _cache_forget(prefix: str) -> None:
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def isolated_cache():
    """The cache of this test process: a key prefix of its own, so runs sharing one Redis
    server (and their rate-limit counters for 127.0.0.1) never meet; its keys are forgotten
    after every test (never a FLUSHDB: the server is shared). The API's rates are set far
    above what any test sends; the throttling tests set their own."""
    prefix = f"zenskar-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    rates = {scope: "1000000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}
    with override_settings(
        CACHES={"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}},
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates},
    ):
        yield prefix
        _cache_forget(prefix)


@pytest.fixture(autouse=True)
def _fresh_cache(isolated_cache):
    yield
    _cache_forget(isolated_cache)


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    def make(email: str | None = None, password: str = PASSWORD):
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        return get_user_model().objects.create_user(username=email, email=email, password=password)

    return make


@pytest.fixture
def make_organization(db, make_user):
    def make(name: str | None = None, owner=None, **fields):
        name = name or f"Org {uuid.uuid4().hex[:6]}"
        return tenancy.organization_create(
            name=name, slug=f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}",
            owner=owner or make_user(), **fields,
        )

    return make


@pytest.fixture
def signed_in(client, tenant, make_user):
    """``signed_in(role)``: the test client signed in as a new member of ``tenant`` with
    ``role`` (e-mail ``<role>@acme.test``); returns the user."""

    def sign_in(role=Role.FINANCE):
        user = make_user(f"{role}@acme.test")
        tenancy.membership_upsert(
            organization=tenant.organization, email=user.email, role=role, actor_role=None
        )
        assert client.login(username=user.email, password=PASSWORD)
        return user

    return sign_in


class Tenant:
    """An organization with an API client for each role."""

    def __init__(self, organization):
        self.organization = organization
        self._keys = {}

    def client(self, role: str = Role.ADMIN) -> APIClient:
        if role not in self._keys:
            _, secret = tenancy.api_key_create(
                organization=self.organization, name=f"{role} key", role=role
            )
            self._keys[role] = secret
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self._keys[role]}")
        return client

    def context(self):
        return tenant_context(self.organization)


@pytest.fixture
def tenant(make_organization):
    return Tenant(make_organization("Acme"))


@pytest.fixture
def other_tenant(make_organization):
    return Tenant(make_organization("Globex"))


# --- Stripe -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe():
    """One Stripe emulator (``localstripe``) for the whole session, on a free loopback port: its
    base URL, which the operator's setting ``STRIPE_API_BASE`` points at. It keeps its state in
    memory for the session (so one instance: a second one would not know the first's cards).

    ``--from-scratch``: otherwise localstripe first loads /tmp/localstripe.pickle, which
    every emulator on the machine rewrites on each change (one caught half-written makes it
    exit at start)."""
    port = _free_port()
    binary = Path(sys.executable).parent / "localstripe"
    process = subprocess.Popen(  # noqa: S603
        [str(binary), "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # it takes seconds to import on a loaded machine
    while True:
        try:
            urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1)  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.1)
    # the operator's setting: every gateway in test mode calls the emulator
    previous, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, base
    yield base
    settings.STRIPE_API_BASE = previous
    process.terminate()
    process.wait(timeout=10)


# --- E-mail ----------------------------------------------------------------------------------


class Collecting:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        import email
        import email.policy

        return [email.message_from_bytes(e.content, policy=email.policy.default)
                for e in self.envelopes]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free loopback port, Django's e-mail pointed at it; the
    messages it was given (``envelopes``, parsed: ``messages``)."""
    from aiosmtpd.controller import Controller

    handler = Collecting()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield handler
    controller.stop()

