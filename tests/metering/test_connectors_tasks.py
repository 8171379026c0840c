"""The scheduled pull: every minute each organization sends one sync per due source.

Sources here read from mongomock (no MongoDB server can be installed on these machines);
Celery runs eagerly, so a sent ``metering.sync_source`` runs in the test's thread once the
claim commits.
"""

from __future__ import annotations

from datetime import timedelta

import mongomock
import psycopg
import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from mongomock.store import ServerStore
from pymongo.errors import ServerSelectionTimeoutError

from metering import sync, tasks
from metering.connectors import mongodb
from metering.models import DataSource, Event, SyncRun
from tests.support import COMMITTING
from zenskar.celery import app as celery_app
from zenskar.core.db import owner_conninfo

pytestmark = COMMITTING

MAPPING = {"event_id": "_id", "customer": "account", "timestamp": "at",
           "event_name_value": "api_call"}


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    eager = ("task_always_eager", "task_eager_propagates")
    saved = {name: celery_app.conf[name] for name in eager}
    celery_app.conf.update(dict.fromkeys(eager, True))
    yield
    celery_app.conf.update(saved)


@pytest.fixture
def usage(monkeypatch):
    """One mongomock server; port 27099 stands for a server that cannot be reached."""
    store = ServerStore()

    def client(uri, **options):
        if ":27099" in uri:
            raise ServerSelectionTimeoutError("127.0.0.1:27099: timed out")
        return mongomock.MongoClient(uri, _store=store, **options)

    monkeypatch.setattr(mongodb, "client_factory", client)
    collection = client("mongodb://localhost")["analytics"]["usage"]
    at = timezone.now().replace(microsecond=0) - timedelta(hours=5)
    collection.insert_many([{"account": "acme-1", "at": at + timedelta(minutes=n)} for n in (1, 2)])
    return collection


def _test_db() -> str:
    return django_settings.DATABASES["owner"]["NAME"]


def source(tenant, name: str, *, next_run_at, enabled: bool = True, host: str = "localhost"):
    with tenant.context():
        created = sync.data_source_create(
            organization=tenant.organization, name=name, kind="mongodb",
            settings={"uri": f"mongodb://{host}", "database": "analytics"},
            query={"collection": "usage"}, mapping=MAPPING, cursor_field="at",
            interval_minutes=30,
        )
        DataSource.objects.filter(pk=created.pk).update(next_run_at=next_run_at, enabled=enabled)
        created.refresh_from_db()
        return created


def runs(tenant) -> dict[str, tuple]:
    with tenant.context():
        return {
            run.source.name: (run.status, run.events_stored)
            for run in SyncRun.objects.select_related("source")
        }


def test_only_due_enabled_sources_of_the_organization_are_synced(tenant, other_tenant, usage):
    now = timezone.now()
    source(tenant, "due", next_run_at=now - timedelta(minutes=1))
    source(tenant, "never run", next_run_at=None)
    later = source(tenant, "not yet", next_run_at=now + timedelta(minutes=10))
    source(tenant, "disabled", next_run_at=now - timedelta(minutes=1), enabled=False)
    source(other_tenant, "other org", next_run_at=now - timedelta(minutes=1))

    sent = tasks.sync_due_sources(str(tenant.organization.id))

    # "due" and "never run": 2 sources, each reading the same 2 documents into its own ids
    assert sent == 2
    assert runs(tenant) == {"due": ("succeeded", 2), "never run": ("succeeded", 2)}
    assert runs(other_tenant) == {}
    with tenant.context():
        assert Event.objects.count() == 4
        synced = DataSource.objects.get(name="due")
        # the run set the next time: now + the 30-minute interval
        assert synced.next_run_at > timezone.now() + timedelta(minutes=29)
        assert DataSource.objects.get(pk=later.pk).next_run_at == later.next_run_at
    # a second beat a moment later finds nothing due
    assert tasks.sync_due_sources(str(tenant.organization.id)) == 0


def test_a_failing_source_does_not_stop_the_others(tenant, usage):
    now = timezone.now()
    source(tenant, "broken", next_run_at=now, host="127.0.0.1:27099")
    source(tenant, "fine", next_run_at=now)

    assert tasks.sync_due_sources(str(tenant.organization.id)) == 2

    assert runs(tenant) == {"broken": ("failed", 0), "fine": ("succeeded", 2)}
    with tenant.context():
        broken = DataSource.objects.get(name="broken")
        run = SyncRun.objects.get(source=broken)
    assert run.error == "Cannot reach MongoDB: 127.0.0.1:27099: timed out"
    # first failure: min(30, 2**1) = 2 minutes
    assert broken.failures == 1
    assert broken.next_run_at <= timezone.now() + timedelta(minutes=2)


def test_two_beats_never_send_a_source_twice(tenant, usage, monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.sync_source, "delay", lambda *args: sent.append(args))
    now = timezone.now()
    free = source(tenant, "free", next_run_at=now)
    held = source(tenant, "held", next_run_at=now)

    # another beat holds "held" (a row lock in its own transaction): it is skipped, not waited on
    with psycopg.connect(owner_conninfo(_test_db())) as other:
        other.execute("SELECT 1 FROM metering_datasource WHERE id = %s FOR UPDATE", [held.id])
        assert tasks.sync_due_sources(str(tenant.organization.id)) == 1
    assert sent == [(str(tenant.organization.id), str(free.id))]

    # "free" is claimed for the lease, so the next beat sends only "held", now unlocked
    assert tasks.sync_due_sources(str(tenant.organization.id)) == 1
    assert sent[1] == (str(tenant.organization.id), str(held.id))
    with tenant.context():
        free.refresh_from_db()
    assert free.next_run_at >= now + sync.RUN_LEASE


def test_sync_source_skips_a_source_disabled_since_it_was_sent(tenant, usage):
    disabled = source(tenant, "off", next_run_at=None, enabled=False)
    assert tasks.sync_source(str(tenant.organization.id), str(disabled.id)) is None
    assert runs(tenant) == {}


def test_a_run_in_progress_is_not_started_twice_and_a_dead_one_is_retired(tenant, usage):
    live = source(tenant, "live", next_run_at=None)
    with tenant.context():
        running = SyncRun.objects.create(organization=tenant.organization, source=live)
        # the same run comes back; no second run starts beside it
        assert sync.data_source_sync(source=live) == running
        SyncRun.objects.filter(pk=running.pk).update(
            started_at=timezone.now() - sync.RUN_LEASE - timedelta(minutes=1)
        )
        fresh = sync.data_source_sync(source=live)
        running.refresh_from_db()
    assert (fresh.status, fresh.events_stored) == ("succeeded", 2)
    assert (running.status, running.error) == (
        "failed", "Interrupted: the worker stopped before the run finished."
    )


def test_the_beat_fans_out_every_minute():
    entry = celery_app.conf.beat_schedule["sync-data-sources"]
    assert entry["task"] == "tenancy.for_each_organization"
    assert entry["args"] == ("metering.sync_due_sources",)
    assert str(entry["schedule"]._orig_minute) == "*"
    assert "metering.sync_source" in celery_app.tasks


def test_backoff_doubles_up_to_the_interval_and_six_hours():
    minutes = [sync.backoff(failures=n, interval_minutes=60).total_seconds() / 60
               for n in (1, 2, 3, 5, 6, 7)]
    assert minutes == [2, 4, 8, 32, 60, 60]
    assert sync.backoff(failures=30, interval_minutes=24 * 60) == timedelta(hours=6)
