"""Usage from a tenant's own systems: a PostgreSQL database on the test server playing the
tenant's warehouse, the data source form that reads it, and a sync run as a worker runs it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
from django.conf import settings
from django.utils import timezone
from psycopg import sql

from metering import sync
from metering.models import DataSource, SyncRun
from zenskar.core.db import owner_conninfo

SOURCE_PASSWORD = "hunter2-Wh4rehouse-secret"  # the warehouse's, as the tenant types it
USAGE_ROWS = "account text, calls int, recorded_at timestamptz"
# The form's mapping (JSON as typed): a row's id, account and time; every row an api_call.
FORM_MAPPING = ('{"event_id": "id", "customer": "account", "timestamp": "recorded_at", '
                '"event_name_value": "api_call", "properties": {"calls": "calls"}}')


@contextmanager
def warehouse_database(*rows: tuple, columns: str = USAGE_ROWS) -> Iterator[str]:
    """A second database on the test server, with a ``usage_rows`` table (``id serial`` and
    ``columns``) holding ``rows``: the tenant's own warehouse. Its name; dropped afterwards."""
    name = f"zenskar_source_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(owner_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(owner_conninfo(name), autocommit=True) as conn:
            conn.execute(f"CREATE TABLE usage_rows (id serial PRIMARY KEY, {columns})")
        if rows:
            warehouse_insert(name, *rows, columns=columns)
        yield name
    finally:
        with psycopg.connect(owner_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def rows_of_yesterday() -> list[tuple]:
    """Three rows of a day ago, a minute apart: 10 and 5 calls of acme-42, then 7 calls of no
    customer (a row every sync refuses)."""
    at = timezone.now() - timedelta(days=1)
    return [("acme-42", 10, at), ("acme-42", 5, at + timedelta(minutes=1)),
            ("", 7, at + timedelta(minutes=2))]


def warehouse_insert(dbname: str, *rows: tuple, columns: str = USAGE_ROWS) -> None:
    """Rows into the warehouse's ``usage_rows``, one value a column of ``columns``."""
    names = [column.split()[0] for column in columns.split(",")]
    insert = sql.SQL("INSERT INTO usage_rows ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)))
    with psycopg.connect(owner_conninfo(dbname), autocommit=True) as conn:
        conn.cursor().executemany(insert, rows)


def source_form(dbname: str, **overrides) -> dict:
    """The dashboard's new data source form, filled in for the warehouse ``dbname``."""
    owner = settings.DATABASES["owner"]
    typed = (f'{{"host": "{owner["HOST"]}", "port": {int(owner["PORT"] or 5432)}, '
             f'"dbname": "{dbname}", "user": "{owner["USER"]}", '
             f'"password": "{SOURCE_PASSWORD}"}}')
    return {"name": "Warehouse", "kind": "postgres", "settings": typed,
            "query": '{"sql": "SELECT id, account, calls, recorded_at FROM usage_rows"}',
            "mapping": FORM_MAPPING, "cursor_field": "id", "interval_minutes": "30", **overrides}


def run_sync(tenant, source: DataSource, **options) -> SyncRun:
    """One sync of ``source``, as the worker runs it; ``source`` read again after it."""
    with tenant.context():
        run = sync.data_source_sync(source=source, **options)
        source.refresh_from_db()
        return run


def counts(run: SyncRun) -> tuple:
    """(status, rows read, events stored, duplicates, rejected)."""
    return (run.status, run.rows_read, run.events_stored, run.duplicates, run.rejected)
