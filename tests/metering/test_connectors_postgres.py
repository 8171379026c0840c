"""Pulling usage from a real PostgreSQL database: a second database on the test server plays
the tenant's warehouse. Redshift sources run the same code (Redshift speaks the PostgreSQL
wire protocol) and are tested against the same server with ``sslmode=disable``."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from metering import sync
from metering.models import DataSource, Event, SyncRun
from tests.support import COMMITTING
from tests.support.metering import counts, run_sync, warehouse_database, warehouse_insert
from zenskar.crypto import decrypt_json

pytestmark = COMMITTING

MAPPING = {
    "event_id": "id", "customer": "account", "timestamp": "recorded_at",
    "event_name_value": "api_calls", "properties": {"calls": "calls", "region": "region"},
}
QUERY = {"sql": "SELECT id, account, calls, region, recorded_at FROM usage_rows"}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the "tenant's" database is local


COLUMNS = "account text, calls int, region text, recorded_at timestamptz"


@pytest.fixture
def warehouse():
    """The tenant's warehouse: an empty ``usage_rows`` table (``COLUMNS``)."""
    with warehouse_database(columns=COLUMNS) as name:
        yield name


def insert(dbname: str, *rows: tuple) -> None:
    warehouse_insert(dbname, *rows, columns=COLUMNS)


def pg_settings(dbname: str, **overrides) -> dict:
    owner = django_settings.DATABASES["owner"]
    # a socket folder (the embedded server) still names its socket by the port: 5432
    found = {"host": owner["HOST"], "port": int(owner["PORT"]) if owner["PORT"] else 5432,
             "dbname": dbname,
             "user": owner["USER"], "password": owner["PASSWORD"]}
    return {k: v for k, v in {**found, **overrides}.items() if v not in ("", None)}


def make_source(tenant, dbname: str, *, kind: str = "postgres", name: str = "Warehouse",
                mapping: dict = MAPPING, cursor_field: str = "id", **overrides) -> DataSource:
    with tenant.context():
        return sync.data_source_create(
            organization=tenant.organization, name=name, kind=kind,
            settings=pg_settings(dbname, **overrides), query=QUERY, mapping=mapping,
            cursor_field=cursor_field,
        )


def stored(tenant) -> list[tuple]:
    with tenant.context():
        return sorted(
            Event.objects.filter(organization=tenant.organization).values_list(
                "event_id", "customer", "event_name", "timestamp", "properties"
            )
        )


@pytest.fixture
def base():
    return (timezone.now() - timedelta(days=2)).replace(microsecond=0)


def test_sync_reads_only_new_rows_and_a_reread_stores_nothing_twice(tenant, warehouse, base):
    h = timedelta(hours=1)
    insert(warehouse, ("acme-1", 10, "eu", base + h), ("acme-2", 20, "us", base + 2 * h),
           ("acme-1", 5, "eu", base + 3 * h))
    source = make_source(tenant, warehouse)
    sid = source.id

    first = run_sync(tenant, source)
    # ids 1..3 read, all new; the watermark is the last id
    assert counts(first) == ("succeeded", 3, 3, 0, 0)
    assert (first.cursor_before, first.cursor_after, source.watermark) == (None, 3, 3)
    assert first.error == "" and first.finished_at is not None
    assert stored(tenant) == [
        (f"{sid}:1", "acme-1", "api_calls", base + h, {"calls": 10, "region": "eu"}),
        (f"{sid}:2", "acme-2", "api_calls", base + 2 * h, {"calls": 20, "region": "us"}),
        (f"{sid}:3", "acme-1", "api_calls", base + 3 * h, {"calls": 5, "region": "eu"}),
    ]
    with tenant.context():
        assert set(Event.objects.values_list("source_id", flat=True)) == {sid}

    insert(warehouse, ("acme-3", 7, "ap", base + 4 * h), ("acme-2", 1, "us", base + 5 * h))
    second = run_sync(tenant, source)
    # only ids 4 and 5 are after the watermark 3
    assert counts(second) == ("succeeded", 2, 2, 0, 0)
    assert (second.cursor_before, second.cursor_after) == (3, 5)
    assert [row[0] for row in stored(tenant)] == [f"{sid}:{i}" for i in range(1, 6)]

    idle = run_sync(tenant, source)
    assert counts(idle) == ("succeeded", 0, 0, 0, 0)
    assert (idle.cursor_before, idle.cursor_after) == (5, 5)

    with tenant.context():
        sync.data_source_update(source=source, watermark=None)
    again = run_sync(tenant, source)
    # all 5 rows read again; their event ids exist: 5 duplicates, nothing stored
    assert counts(again) == ("succeeded", 5, 0, 5, 0)
    assert len(stored(tenant)) == 5
    assert (source.failures, source.watermark) == (0, 5)
    assert source.next_run_at > timezone.now() + timedelta(minutes=59)


def test_pages_never_end_between_rows_sharing_a_cursor_value(tenant, warehouse, base):
    t1, t2, t3, t4 = (base + timedelta(minutes=m) for m in (1, 2, 3, 4))
    insert(warehouse, ("a", 1, "eu", t1), ("b", 2, "eu", t2), ("c", 3, "eu", t2),
           ("d", 4, "eu", t3), ("e", 5, "eu", t4))
    source = make_source(tenant, warehouse, cursor_field="recorded_at",
                         mapping={**MAPPING, "event_id": ["account", "id"]})
    run = run_sync(tenant, source, page_size=3)
    # page 1 = ids 1,2,3 (t1,t2,t2) is full and ends on t2: ids 2,3 are held back, wm = t1;
    # page 2 = ids 2,3,4 (t2,t2,t3) is full and ends on t3: id 4 held back, wm = t2;
    # page 3 = ids 4,5 is short: stored, wm = t4. 1 + 2 + 2 = 5 rows, each once.
    assert counts(run) == ("succeeded", 5, 5, 0, 0)
    assert run.cursor_after == t4.isoformat()
    assert [row[0] for row in stored(tenant)] == [
        f"{source.id}:a:1", f"{source.id}:b:2", f"{source.id}:c:3", f"{source.id}:d:4",
        f"{source.id}:e:5",
    ]
    insert(warehouse, ("f", 6, "eu", t4 + timedelta(seconds=1)))
    # the timestamp watermark goes back to the server as text and compares as timestamptz
    assert counts(run_sync(tenant, source, page_size=3)) == ("succeeded", 1, 1, 0, 0)


def test_bad_credentials_fail_the_run_readably_and_other_sources_still_sync(
    tenant, warehouse, base
):
    insert(warehouse, ("acme-1", 10, "eu", base), ("acme-2", 20, "us", base))
    ghost_user = f"ghost_{uuid.uuid4().hex[:8]}"  # no such role on the server
    ghost = make_source(tenant, warehouse, name="Ghost", user=ghost_user,
                        password="s3cret-pa55word")
    good = make_source(tenant, warehouse, name="Good")

    before = timezone.now()
    failed = run_sync(tenant, ghost)
    ok = run_sync(tenant, good)

    assert counts(failed) == ("failed", 0, 0, 0, 0)
    # "connection to server at <host>, port <port>" over TCP, "on socket <path>" otherwise
    assert failed.error.startswith(
        "Cannot connect to PostgreSQL: connection failed: connection to server ")
    assert failed.error.endswith(f'failed: FATAL: role "{ghost_user}" does not exist')
    assert "s3cret-pa55word" not in failed.error
    # first failure: min(interval 60, 2**1) = 2 minutes; the watermark did not move
    assert ghost.failures == 1 and ghost.watermark is None
    delay = timedelta(minutes=2)
    assert before + delay <= ghost.next_run_at <= timezone.now() + delay
    assert counts(ok) == ("succeeded", 2, 2, 0, 0)
    assert {row[0] for row in stored(tenant)} == {f"{good.id}:1", f"{good.id}:2"}

    before = timezone.now()
    run_sync(tenant, ghost)
    # second failure in a row: 2**2 = 4 minutes
    assert ghost.failures == 2
    delay = timedelta(minutes=4)
    assert before + delay <= ghost.next_run_at <= timezone.now() + delay
    with tenant.context():
        ok, message = sync.data_source_test(source=ghost)
    assert not ok and f'role "{ghost_user}" does not exist' in message
    with tenant.context(), pytest.raises(ValidationError) as error:
        sync.data_source_preview(source=ghost)
    assert list(error.value.message_dict) == ["connection"]
    assert "s3cret-pa55word" not in str(error.value)


def test_a_broken_query_fails_the_run_with_the_servers_reason(tenant, warehouse):
    source = make_source(tenant, warehouse)
    with tenant.context():
        DataSource.objects.filter(pk=source.pk).update(query={"sql": "SELECT * FROM nowhere"})
        source.refresh_from_db()
    run = run_sync(tenant, source)
    assert (run.status, run.error) == (
        "failed", 'The query failed: relation "nowhere" does not exist'
    )


def test_redshift_uses_the_same_code_path(tenant, warehouse, base):
    insert(warehouse, ("acme-1", 10, "eu", base))
    # Redshift speaks the PostgreSQL protocol, so the test server stands in for it; it has no
    # TLS, so sslmode is set to disable explicitly (Redshift's default is require).
    redshift = make_source(tenant, warehouse, kind="redshift", sslmode="disable")
    run = run_sync(tenant, redshift)
    assert counts(run) == ("succeeded", 1, 1, 0, 0)
    assert stored(tenant)[0][:2] == (f"{redshift.id}:1", "acme-1")

    defaulted = make_source(tenant, warehouse, kind="redshift", name="TLS by default")
    with tenant.context():
        connector = sync._connector(defaulted)[0]
    assert connector.connect_kwargs()["sslmode"] == "require"
    if not pg_settings(warehouse)["host"].startswith("/"):
        # over TCP the test server, which has no TLS, refuses (libpq ignores sslmode on a
        # Unix socket, which the embedded server uses)
        refused = run_sync(tenant, defaulted)
        assert refused.status == "failed"
        assert refused.error.endswith("server does not support SSL, but SSL was required")


def test_preview_maps_the_first_rows_and_stores_nothing(tenant, warehouse, base):
    old = timezone.now() - timedelta(days=200)
    insert(warehouse, ("acme-1", 10, "eu", base), ("acme-2", 20, None, old),
           (None, 1, "eu", base))
    source = make_source(tenant, warehouse)
    with tenant.context():
        ok, message = sync.data_source_test(source=source)
        preview = sync.data_source_preview(source=source, limit=10)
        assert (SyncRun.objects.count(), Event.objects.count()) == (0, 0)
        source.refresh_from_db()
    assert (ok, message) == (True, "Connected to PostgreSQL; the query works.")
    assert source.watermark is None
    assert [row["id"] for row, _ in preview] == [1, 2, 3]
    assert preview[0] == (
        {"id": 1, "account": "acme-1", "calls": 10, "region": "eu",
         "recorded_at": base.isoformat()},
        {"event_id": f"{source.id}:1", "customer": "acme-1", "event_name": "api_calls",
         "timestamp": base.isoformat(), "properties": {"calls": 10, "region": "eu"}},
    )
    assert preview[1][1] == {
        "errors": {"timestamp": ["is older than the accepted window of 90 days"]}
    }
    assert preview[2][1] == {"errors": {"customer": ["column 'account' is empty"]}}


def test_definitions_are_checked_by_field_and_credentials_encrypted(tenant, warehouse):
    with tenant.context(), pytest.raises(ValidationError) as error:
        sync.data_source_create(
            organization=tenant.organization, name="", kind="postgres",
            settings={"host": "db.example.com", "port": "x"}, query={"sql": "SELECT {cursor}"},
            mapping={"event_id": "id", "event_name": "kind", "event_name_value": "calls"},
            cursor_field="", interval_minutes=0,
        )
    assert sorted(error.value.message_dict) == [
        "cursor_field", "interval_minutes", "mapping.customer", "mapping.event_name",
        "mapping.timestamp", "name", "query.sql", "settings.dbname", "settings.port",
        "settings.user",
    ]
    with tenant.context(), pytest.raises(ValidationError) as error:
        sync.data_source_create(
            organization=tenant.organization, name="x", kind="oracle", settings={}, query={},
            mapping=MAPPING, cursor_field="id",
        )
    assert error.value.message_dict == {
        "kind": ["Must be one of postgres, redshift, mongodb, http."]
    }

    source = make_source(tenant, warehouse, password="hunter2-secret")
    assert b"hunter2-secret" not in bytes(source.encrypted_settings)
    assert decrypt_json(source.encrypted_settings)["password"] == "hunter2-secret"
    with tenant.context():
        # a form that leaves the password out keeps it
        sync.data_source_update(source=source, settings={"sslmode": "disable"})
        source.refresh_from_db()
    assert decrypt_json(source.encrypted_settings) == pg_settings(
        warehouse, password="hunter2-secret", sslmode="disable"
    )
