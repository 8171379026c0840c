"""Database plumbing shared by every app: the migration router, the application role, and the
row-level-security operation each tenant table's migration applies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.operations.base import Operation

T = TypeVar("T")

# The per-connection setting that row-level-security policies read. Set by
# ``zenskar.tenancy.context.tenant_context``; unset or empty means "no organization": no rows.
TENANT_SETTING = "zenskar.organization_id"

TENANT_POLICY_EXPR = (
    f"organization_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"
)


@contextmanager
def connection_setting(current: ContextVar[T], value: T, apply: Callable[[T], None], *,
                       lazy: bool = False) -> Iterator[None]:
    """Hold ``value`` in ``current`` for a block and ``apply`` it to the application's
    connection -- at once, or, when ``lazy``, before the block's first query only (hot read
    paths answered from Redis pay no round trip for nothing). On the way out the previous value
    is restored, on the connection too, so a pooled connection never carries one block's
    setting into the next; a connection that cannot take it (broken, or in a failed
    transaction) is dropped instead."""
    token = current.set(value)
    applied = False

    def apply_first(execute: Callable[..., Any], sql: str, params: Any, many: bool,
                    context: dict[str, Any]) -> Any:
        nonlocal applied
        if not applied:
            applied = True
            apply(value)
        return execute(sql, params, many, context)

    try:
        if not lazy:
            applied = True
            apply(value)
        with connections["default"].execute_wrapper(apply_first) if lazy else nullcontext():
            yield
    finally:
        current.reset(token)
        if applied:
            try:
                apply(current.get())
            except DatabaseError:
                connections["default"].close()


def owner_conninfo(dbname: str | None = None) -> str:
    """A libpq connection string for the owner role (maintenance, tests, benchmarks)."""
    from psycopg.conninfo import make_conninfo

    owner = settings.DATABASES["owner"]
    params = {
        "dbname": dbname or owner["NAME"], "user": owner["USER"],
        "password": owner["PASSWORD"] or None, "host": owner["HOST"] or None,
        "port": owner["PORT"] or None,
    }
    return make_conninfo(**{k: v for k, v in params.items() if v}, **owner.get("OPTIONS", {}))


class OwnerMigratesRouter:
    """Schema changes go through the ``owner`` alias only; queries use ``default``."""

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "owner"


def app_role() -> str:
    return settings.DATABASES["default"]["USER"]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class EnableTenantRowLevelSecurity(Operation):
    """Turn on row-level security for one tenant table.

    Rows are visible and writable only when their ``organization_id`` equals the connection's
    ``zenskar.organization_id`` setting. ``FORCE`` makes the policy bind the table owner too
    (superusers and BYPASSRLS roles are still exempt: the application never connects as one).
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _table(self, app_label, to_state) -> str:
        model = to_state.apps.get_model(app_label, self.model_name)
        return quote_ident(model._meta.db_table)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(app_label, to_state)
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING ({TENANT_POLICY_EXPR}) WITH CHECK ({TENANT_POLICY_EXPR})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table = self._table(app_label, from_state)
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable tenant row-level security on {self.model_name}"

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name], {})


class CreateApplicationRole(Operation):
    """Create the application's ordinary role (when missing) and grant it data access.

    The role may read and write rows, never alter tables; it owns nothing, so row-level
    security binds it. Default privileges cover the tables later migrations create.
    """

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        role = app_role()
        owner = schema_editor.connection.settings_dict["USER"]
        if role == owner:
            raise RuntimeError(
                "DATABASE_APP_USER must differ from the owner role in DATABASE_URL: "
                "the owner bypasses row-level security."
            )
        password = settings.DATABASES["default"].get("PASSWORD") or ""
        q = quote_ident(role)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {q} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB")
            if password:
                cursor.execute(f"ALTER ROLE {q} PASSWORD %s", [password])
            cursor.execute("SELECT current_database()")
            database = quote_ident(cursor.fetchone()[0])
        for statement in (
            f"GRANT CONNECT ON DATABASE {database} TO {q}",
            f"GRANT USAGE ON SCHEMA public TO {q}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {q}",
        ):
            schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        q = quote_ident(app_role())
        schema_editor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {q}"
        )
        schema_editor.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {q}"  # noqa: S608, E501
        )

    def describe(self):
        return "Create the application role and grant it data access"

    def deconstruct(self):
        return (self.__class__.__name__, [], {})
