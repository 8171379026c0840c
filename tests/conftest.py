"""Test set-up: a real PostgreSQL test database, migrated as the owner role, used by the
application's own role under row-level security -- exactly as in production.

``make test`` starts the embedded servers when DATABASE_URL/REDIS_URL are unset. The root
fixtures (database, cache, users, tenants) are here; what the tests share beyond them lives in
``tests/support`` and its fixtures are registered below.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from psycopg import sql

from zenskar.core.db import owner_conninfo
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.models import Role

# The helpers' asserts report their values like the tests' own: registered before any import.
pytest.register_assert_rewrite("tests.support")

from tests.support import PASSWORD  # noqa: E402
from tests.support.factories import OrganizationFactory, UserFactory  # noqa: E402
from tests.support.tenants import Tenant  # noqa: E402
from tests.support.world import SCHEMATHESIS_TALLY  # noqa: E402

pytest_plugins = [
    "tests.support.browser",  # the session's Chromium: browser, page, artifacts
    "tests.support.mail",  # smtp
    "tests.support.payments",  # localstripe, stripe_gateway
    "tests.support.entitlements",  # clock
    "tests.support.scenario",  # scenario
    "tests.support.world",  # world, wsgi_calls
    "tests.support.receivables",  # hourly
    "tests.support.client",  # live_client, sleeps (the Python client's)
    "tests.support.audit",  # the test database's flush past the audit trail
    "tests.support.webhooks",  # receiver
]


def pytest_terminal_summary(terminalreporter):
    """What the schema fuzzing ran (tests/security/test_schemathesis.py), over all workers."""
    tally = SCHEMATHESIS_TALLY
    if tally["cases"]:
        terminalreporter.write_line(
            f"schemathesis: {len(tally['operations'])} operations, {tally['cases']} generated "
            f"cases (at most {tally['examples_per_operation']} per operation)")


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # a worker of pytest-xdist: hand the tally to the controller
        output["schemathesis"] = {**SCHEMATHESIS_TALLY,
                                  "operations": sorted(SCHEMATHESIS_TALLY["operations"])}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    tally = getattr(node, "workeroutput", {}).get("schemathesis")
    if tally:
        SCHEMATHESIS_TALLY["operations"].update(tally["operations"])
        SCHEMATHESIS_TALLY["cases"] += tally["cases"]
        SCHEMATHESIS_TALLY["examples_per_operation"] = tally["examples_per_operation"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


MIGRATION_LOCK = 7_402_118_113  # any number of the test suite's own


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
    # The migrations also make the server's roles (one set per server, not per database): two
    # processes migrating at once on a new server would both create them, so one waits for the
    # other (a lock of the server's, held while migrating).
    with psycopg.connect(owner_conninfo("postgres"), autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
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
    def make(email: str | None = None, password: str = PASSWORD):
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        return UserFactory(email=email, password=password)

    return make


@pytest.fixture
def make_organization(db, make_user):
    """``make_organization(name, owner=None, default_currency=..., time_zone=...)``: an
    organization and its owner (a new user unless given)."""

    def make(name: str | None = None, owner=None, **fields):
        name = name or f"Org {uuid.uuid4().hex[:6]}"
        return OrganizationFactory(name=name, owner=owner or make_user(), **fields)

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


@pytest.fixture
def tenant(make_organization):
    return Tenant(make_organization("Acme"))


@pytest.fixture
def other_tenant(make_organization):
    return Tenant(make_organization("Globex"))
