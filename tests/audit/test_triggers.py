"""The triggers that write the audit trail, as the database holds them: one on each audited
table, each kind of object named for people, and every column whose name says it holds a
secret redacted -- a column added later with such a name fails here until its trigger redacts
it."""

from __future__ import annotations

import pytest
from django.db import connection

from zenskar.audit.describe import OBJECT_TYPES

pytestmark = pytest.mark.django_db

SENSITIVE = ("secret", "password", "token", "hash", "encrypted", "credential")


def _triggers() -> dict[str, list[str]]:
    """Each table with the audit trigger -> its arguments (object type, redacted columns,
    bookkeeping columns, label columns, parent column)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT c.relname, encode(t.tgargs, 'escape')
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE t.tgname = 'audit_record'""")
        return {table: arguments.split("\\000")[:5] for table, arguments in cursor.fetchall()}


def test_every_audited_kind_has_a_name_for_people():
    kinds = [arguments[0] for arguments in _triggers().values()]

    assert len(kinds) == len(set(kinds)) == 27
    assert set(kinds) == set(OBJECT_TYPES)


def test_every_column_named_like_a_secret_is_redacted():
    redacted = {table: set(filter(None, arguments[1].split(",")))
                for table, arguments in _triggers().items()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_name = ANY(%s)", [list(redacted)])
        columns = cursor.fetchall()

    unredacted = [(table, column) for table, column in columns
                  if any(word in column for word in SENSITIVE)
                  and column not in redacted[table]]
    assert unredacted == []
    assert redacted["tenancy_apikey"] == {"secret_hash"}
    assert redacted["payments_gatewayaccount"] == {"encrypted_credentials"}
    assert redacted["metering_datasource"] == {"encrypted_settings"}
    assert "encrypted_secrets" in redacted["webhooks_endpoint"]
