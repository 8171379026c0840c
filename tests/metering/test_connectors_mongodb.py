"""Pulling usage from MongoDB.

No MongoDB server can be installed on these machines, so the collection lives in mongomock:
the connector's ``client_factory`` hook is pointed at ``mongomock.MongoClient`` (sharing one
in-memory store, as a real server would keep its data between connections). The failure test
uses the real pymongo client against a closed port.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import mongomock
import pymongo
import pytest
from django.utils import timezone
from mongomock.store import ServerStore

from metering import sync
from metering.connectors import mongodb
from metering.models import DataSource, Event
from tests.support import COMMITTING
from tests.support.metering import counts, run_sync

pytestmark = COMMITTING

MAPPING = {
    "event_id": "_id", "customer": "account", "timestamp": "at", "event_name_value": "api_call",
    "properties": {"region": "meta.region", "calls": "calls"},
}
QUERY = {"collection": "usage", "filter": {"kind": "api_call"}}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # mongodb://localhost


@pytest.fixture
def usage(monkeypatch):
    """The tenant's ``analytics.usage`` collection, in mongomock."""
    store = ServerStore()

    def client(uri, **options):
        return mongomock.MongoClient(uri, _store=store, **options)

    monkeypatch.setattr(mongodb, "client_factory", client)
    return client("mongodb://localhost")["analytics"]["usage"]


def make_source(tenant, uri: str = "mongodb://localhost:27017") -> DataSource:
    with tenant.context():
        return sync.data_source_create(
            organization=tenant.organization, name="Mongo", kind="mongodb",
            settings={"uri": uri, "database": "analytics"}, query=QUERY, mapping=MAPPING,
            cursor_field="at",
        )


def doc(base, minutes: int, account: str | None = "acme-1", kind: str = "api_call", calls=1):
    found = {"kind": kind, "at": base + timedelta(minutes=minutes), "calls": calls,
             "meta": {"region": "eu"}}
    if account is not None:
        found["account"] = account
    return found


@pytest.fixture
def base():
    return (timezone.now() - timedelta(days=3)).replace(microsecond=0)


def test_sync_reads_new_documents_by_a_date_cursor(tenant, usage, base):
    ids = usage.insert_many([
        doc(base, 1, calls=3), doc(base, 2, "acme-2", calls=4),
        doc(base, 3, kind="heartbeat"),  # outside the query's filter
        doc(base, 4, calls=5),
    ]).inserted_ids
    source = make_source(tenant)
    sid = source.id

    first = run_sync(tenant, source)
    # 3 api_call documents; the heartbeat is filtered out by the query
    assert counts(first) == ("succeeded", 3, 3, 0, 0)
    # a date cursor is kept as Extended JSON, so the next query compares dates
    assert first.cursor_after == {"$date": (base + timedelta(minutes=4)).isoformat()}
    with tenant.context():
        events = sorted(
            Event.objects.values_list("event_id", "customer", "timestamp", "properties")
        )
    assert events == sorted([
        (f"{sid}:{ids[0]}", "acme-1", base + timedelta(minutes=1), {"region": "eu", "calls": 3}),
        (f"{sid}:{ids[1]}", "acme-2", base + timedelta(minutes=2), {"region": "eu", "calls": 4}),
        (f"{sid}:{ids[3]}", "acme-1", base + timedelta(minutes=4), {"region": "eu", "calls": 5}),
    ])

    usage.insert_many([doc(base, 5), doc(base, 6)])
    second = run_sync(tenant, source)
    # only the two documents after minute 4
    assert counts(second) == ("succeeded", 2, 2, 0, 0)
    assert second.cursor_after == {"$date": (base + timedelta(minutes=6)).isoformat()}

    with tenant.context():
        sync.data_source_update(source=source, watermark=None)
    # from the start: 5 api_call documents, all already stored
    assert counts(run_sync(tenant, source)) == ("succeeded", 5, 0, 5, 0)
    with tenant.context():
        assert Event.objects.count() == 5


def test_rows_that_cannot_be_events_are_counted_and_explained(tenant, usage, base):
    old = timezone.now().replace(microsecond=0) - timedelta(days=200)
    usage.insert_many([
        {**doc(old, 0)},  # older than the 90-day window
        doc(base, 1, account=None),  # no customer
        doc(base, 2),
    ])
    source = make_source(tenant)
    run = run_sync(tenant, source)
    # 3 read: 1 stored, 1 refused by the mapping, 1 refused by ingestion; the run succeeds
    # and the watermark moves past all three (they would be refused again)
    assert counts(run) == ("succeeded", 3, 1, 0, 2)
    assert run.cursor_after == {"$date": (base + timedelta(minutes=2)).isoformat()}
    assert run.error.startswith("2 rows rejected; the first: ")
    assert "the row has no column 'account'" in run.error
    assert "is older than the accepted window of 90 days" in run.error


def test_an_unreachable_server_fails_the_run_without_the_password(tenant, monkeypatch):
    monkeypatch.setattr(mongodb, "client_factory", pymongo.MongoClient)
    monkeypatch.setattr(mongodb, "TIMEOUT_MS", 300)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = make_source(tenant, uri=f"mongodb://meter:mongo-pass-123@127.0.0.1:{port}/admin")
    run = run_sync(tenant, source)
    assert run.status == "failed"
    assert run.error.startswith(
        f"Cannot reach MongoDB: 127.0.0.1:{port}: [Errno 111] Connection refused"
    )
    assert "Topology" not in run.error
    assert "mongo-pass-123" not in run.error
    assert source.failures == 1


def test_definition_of_a_mongodb_source_is_checked(tenant):
    from django.core.exceptions import ValidationError

    with tenant.context(), pytest.raises(ValidationError) as error:
        sync.data_source_create(
            organization=tenant.organization, name="x", kind="mongodb",
            settings={"uri": "postgres://x"}, query={"filter": []}, mapping=MAPPING,
            cursor_field="at",
        )
    assert error.value.message_dict == {
        "settings.uri": ["Required: a mongodb:// or mongodb+srv:// URI."],
        "settings.database": ["Required (text)."],
        "query.collection": ["Required (text)."],
        "query.filter": ["Must be a MongoDB filter document (a JSON object)."],
    }
